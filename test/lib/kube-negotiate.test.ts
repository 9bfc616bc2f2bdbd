import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

const run = promisify(execFile);

/** Whether a fresh process that makes a KubeClient with `protocol` has loaded node:http2 (1.6 MB resident). */
async function loadsHttp2(protocol: 'auto' | 'http/1.1'): Promise<boolean> {
  const script = `
    import { KubeClient } from ${JSON.stringify(join(projectRoot, 'lib', 'kube', 'client.ts'))};
    const client = new KubeClient({ server: new URL('https://127.0.0.1:1'), tls: { rejectUnauthorized: true }, token: async () => undefined }, 'test', ${JSON.stringify(protocol)});
    await new Promise((resolve) => setTimeout(resolve, 200));
    console.log(JSON.stringify({ http2: process.moduleLoadList.some((m) => m === 'NativeModule http2'), protocol: client.protocol }));
    client.close();
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: projectRoot });
  const answer = JSON.parse(stdout) as { http2: boolean; protocol: string };
  expect(answer.protocol).toBe(protocol === 'auto' ? 'h2' : 'http/1.1');
  return answer.http2;
}

describe('HTTP negotiation', () => {
  it('loads node:http2 only for a client that may speak it', async () => {
    expect(await loadsHttp2('http/1.1')).toBe(false);
    expect(await loadsHttp2('auto')).toBe(true);
  });
});
