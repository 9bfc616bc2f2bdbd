import { pino, type Logger } from 'pino';

/**
 * The one root logger. Level from KSLEUTH_LOG_LEVEL (default info); JSON lines unless
 * KSLEUTH_LOG_PRETTY=1 asks for pino-pretty (a dev dependency).
 */
export const log: Logger = pino(
  {
    name: 'ksleuth',
    level: process.env.KSLEUTH_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    ...(process.env.KSLEUTH_LOG_PRETTY === '1' ? { transport: { target: 'pino-pretty', options: { colorize: true, destination: 2 } } } : {}),
  },
  process.env.KSLEUTH_LOG_PRETTY === '1' ? undefined : pino.destination(2),
);

export type { Logger };
