import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureImages, type ImageName } from '../harness/images.js';

/*
 * The images hack/build-images.sh builds, as files: what npm needed at build time on this machine
 * (the certificate of a TLS-intercepting proxy) must not have reached a layer.
 */

/** The base64 bodies of the certificates in a PEM bundle. */
function certificates(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => m[1]!.replace(/\s+/g, ''));
}

/** The CA bundle npm used at build time, as build-images.sh finds it. */
function buildCaBundle(): string | undefined {
  const cafile = (() => {
    try {
      return execFileSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  })();
  for (const path of [cafile, process.env.NODE_EXTRA_CA_CERTS ?? '']) if (path && existsSync(path)) return path;
  return undefined;
}

/** Certificates npm trusted at build time that Debian does not ship: this machine's own (its proxy's). */
function machineCas(): string[] {
  const bundle = buildCaBundle();
  if (!bundle) return [];
  const mozilla = '/usr/share/ca-certificates/mozilla';
  const debian = new Set(existsSync(mozilla) ? readdirSync(mozilla).flatMap((f) => certificates(readFileSync(join(mozilla, f), 'utf8'))) : []);
  return certificates(readFileSync(bundle, 'utf8')).filter((c) => !debian.has(c));
}

/** Which of the needles occur in a file (streamed; needles may straddle chunks). */
async function occurrences(path: string, needles: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  const longest = Math.max(...needles.map((n) => n.length));
  let tail = '';
  for await (const chunk of createReadStream(path, { encoding: 'latin1', highWaterMark: 4 * 1024 * 1024 })) {
    const text = tail + (chunk as string);
    for (const needle of needles) if (!found.has(needle) && text.includes(needle)) found.add(needle);
    tail = text.slice(-longest);
  }
  return found;
}

/** A PEM body as it is written in a file: base64 in lines of 64; one whole line of it from the middle. */
function pemLine(body: string): string {
  const lines = body.match(/.{1,64}/g)!;
  return lines[Math.floor(lines.length / 2)]!;
}

const cas = machineCas();

describe('the images built here', () => {
  it.runIf(cas.length > 0).each(['operator', 'agent'] satisfies ImageName[])(
    '%s: carries none of the CA certificates npm needed at build time on this machine',
    async (name) => {
      const image = (await ensureImages())[name];
      // docker-archive layers are plain tars: a file's content is in the archive as written.
      const control = '"name": "ksleuth"';
      const needles = cas.map(pemLine);
      const found = await occurrences(image.archive, [control, ...needles]);
      expect(found.has(control), `${image.archive} shows the app's package.json (the search sees into layers)`).toBe(true);
      expect(needles.filter((n) => found.has(n))).toEqual([]);
    },
    600_000,
  );
});
