import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A self-signed serving certificate for the artifact server, made once and kept in the state
 * directory. The agent publishes its fingerprint in its KernelNode status, and the operator
 * accepts no other certificate for this node before it sends its token.
 */
export async function servingCertificate(dir: string, commonName: string): Promise<{ cert: Buffer; key: Buffer }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  const existing = await Promise.all([readFile(certPath), readFile(keyPath)]).catch(() => undefined);
  if (existing) return { cert: existing[0], key: existing[1] };
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '3650',
    '-subj',
    `/CN=${commonName}`,
  ]).catch((error: unknown) => {
    throw new Error(`could not create the artifact server's certificate with openssl: ${(error as { stderr?: string }).stderr ?? error}`);
  });
  return { cert: await readFile(certPath), key: await readFile(keyPath) };
}
