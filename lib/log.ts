import { type Logger, type LoggerOptions, pino } from 'pino';

const pretty = process.env.KSLEUTH_LOG_PRETTY === '1';

/**
 * The options of the root logger: level from KSLEUTH_LOG_LEVEL (default info), and the level
 * written as its name ("warn"), not pino's number (40), so that people and log pipelines that do
 * not know pino's numbering read the same word.
 */
export const logOptions: LoggerOptions = {
  name: 'ksleuth',
  level: process.env.KSLEUTH_LOG_LEVEL ?? 'info',
  base: { pid: process.pid },
  formatters: { level: (label) => ({ level: label }) },
};

/** The one root logger: JSON lines on stderr unless KSLEUTH_LOG_PRETTY=1 asks for pino-pretty (a dev dependency). */
export const log: Logger = pretty
  ? pino({ ...logOptions, transport: { target: 'pino-pretty', options: { colorize: true, destination: 2 } } })
  : pino(logOptions, pino.destination(2));

export type { Logger };
