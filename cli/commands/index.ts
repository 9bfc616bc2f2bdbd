import type { Command } from '../command.js';
import { analyze } from './analyze.js';
import { artifacts } from './artifacts.js';
import { flamegraph } from './flamegraph.js';
import { get } from './get.js';
import { investigate } from './investigate.js';
import { mitigation } from './mitigation.js';
import { report } from './report.js';
import { version } from './version.js';

/** Every subcommand, by name. Adding one: its module here and one line below. */
export const commands: Record<string, Command> = {
  investigate,
  get,
  artifacts,
  mitigation,
  report,
  flamegraph,
  analyze,
  version,
};
