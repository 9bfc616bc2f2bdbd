import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { Manifest } from '../../node-agent/captures/bundle/manifest.js';
import { maxInputBytes } from './inputs.js';
import { readTar } from './tar.js';

/** A bundle made by the bundle capture, read from its tar.gz: the manifest and each item's text. */
export interface BundleContents {
  path: string;
  manifest: Manifest;
  /** Item text by file name (manifest.json left out). */
  items: Map<string, string>;
}

/** Reads a bundle archive; throws with the path and what is wrong when it is not one. */
export async function readBundleArchive(path: string): Promise<BundleContents> {
  const bytes = gunzipSync(await readFile(path), { maxOutputLength: maxInputBytes });
  const items = new Map<string, string>();
  let manifest: Manifest | undefined;
  for (const entry of readTar(bytes)) {
    const file = entry.name.slice(entry.name.lastIndexOf('/') + 1);
    if (file === 'manifest.json') manifest = JSON.parse(entry.data.toString('utf8')) as Manifest;
    else items.set(file, entry.data.toString('utf8'));
  }
  if (!manifest) throw new Error(`${path} is not a ksleuth bundle: it has no manifest.json`);
  return { path, manifest, items };
}
