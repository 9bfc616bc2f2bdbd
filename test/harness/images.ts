import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../lib/paths.js';

const run = promisify(execFile);

export const imageNames = ['pause', 'operator', 'agent'] as const;
export type ImageName = (typeof imageNames)[number];

export interface BuiltImage {
  /** The reference the image is loaded under: the chart's default for operator and agent. */
  reference: string;
  /** A docker-archive of it, for `ctr images import`. */
  archive: string;
}

let cached: Promise<Record<ImageName, BuiltImage>> | undefined;

/**
 * The operator and agent images built from images/*.Dockerfile, and the real node's pause image:
 * built with buildah by hack/build-images.sh on first use (a few minutes), cached afterwards.
 */
export function ensureImages(): Promise<Record<ImageName, BuiltImage>> {
  cached ??= build();
  return cached;
}

async function build(): Promise<Record<ImageName, BuiltImage>> {
  const script = join(projectRoot, 'hack', 'build-images.sh');
  const { stdout } = await run('bash', [script], { maxBuffer: 16 * 1024 * 1024 }).catch((error: unknown) => {
    cached = undefined;
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`building the images failed (bash ${script}):\n${stderr.slice(-4000)}`);
  });
  const images: Partial<Record<ImageName, BuiltImage>> = {};
  for (const line of stdout.trim().split('\n')) {
    const [name, reference, archive] = line.split(' ');
    if ((imageNames as readonly string[]).includes(name!) && reference && archive) images[name as ImageName] = { reference, archive };
  }
  for (const name of imageNames) if (!images[name]) throw new Error(`bash ${script} did not report the ${name} image:\n${stdout}`);
  return images as Record<ImageName, BuiltImage>;
}

/**
 * The options the image's ENTRYPOINT gives node before the main module (images/<name>.Dockerfile),
 * so that a component run outside its container (benchmarks) runs with the same V8 settings.
 */
export async function entrypointNodeOptions(image: 'operator' | 'agent'): Promise<string[]> {
  const dockerfile = join(projectRoot, 'images', `${image}.Dockerfile`);
  const line = /^ENTRYPOINT (\[.*\])$/m.exec(await readFile(dockerfile, 'utf8'))?.[1];
  if (!line) throw new Error(`${dockerfile} has no ENTRYPOINT in exec form`);
  const args = JSON.parse(line) as string[];
  const main = args.findIndex((arg) => arg.endsWith('/main.js'));
  if (main < 1) throw new Error(`${dockerfile}: its ENTRYPOINT runs no main.js through node: ${line}`);
  return args.slice(1, main);
}
