import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { CaptureContext } from '../../../../node-agent/engine/capture.js';
import { startRetransmitTrace } from '../../../../node-agent/captures/tcp/retransmit-trace.js';
import { nodeFacts } from '../real-run.js';

async function context(): Promise<CaptureContext<'tcp'>> {
  // The trace reads only these fields of a capture's context.
  const fields: Pick<CaptureContext<'tcp'>, 'facts' | 'signal' | 'durationSeconds' | 'log'> = {
    facts: await nodeFacts(),
    signal: new AbortController().signal,
    durationSeconds: 5,
    log: pino({ level: 'silent' }),
  };
  return fields as CaptureContext<'tcp'>;
}

describe('tracing retransmits with bpftrace', () => {
  it('says the window was too short when it ends before bpftrace attached', async () => {
    const trace = startRetransmitTrace(await context());
    const result = await trace.stop();
    expect(result).toEqual({
      state: 'failed',
      reason: expect.stringMatching(
        /^bpftrace had not attached to tcp:tcp_retransmit_skb when the window ended after 0\.\d s; a longer duration gives it time to start$/,
      ),
    });
  });
});
