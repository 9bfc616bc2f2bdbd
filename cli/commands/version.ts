import { ksleuthVersion } from '../../lib/version.js';
import type { Command } from '../command.js';

export const version: Command = {
  summary: 'Print the ksleuth version',
  usage: 'ksleuth version',
  async run() {
    console.log(`ksleuth ${ksleuthVersion}`);
    return 0;
  },
};
