import { ksleuthVersion } from '../../lib/version.js';
import type { Command } from '../command.js';

export const version: Command = {
  usage: 'ksleuth version',
  async run() {
    console.log(`ksleuth ${ksleuthVersion}`);
    return 0;
  },
};
