import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { logOptions } from '../../lib/log.js';

describe('the root logger options', () => {
  it('write the level as its name, not as a number', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino({ ...logOptions, level: 'debug' }, sink);
    logger.warn({ node: 'n1' }, 'Drift on vm.swappiness');
    logger.child({ controller: 'mitigation' }).debug('Reconciled');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toMatchObject([
      { level: 'warn', name: 'ksleuth', node: 'n1', msg: 'Drift on vm.swappiness' },
      { level: 'debug', controller: 'mitigation', msg: 'Reconciled' },
    ]);
  });
});
