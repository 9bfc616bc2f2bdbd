import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ArtifactRef } from '../../api/v1alpha1/capture.js';

/** Where a capture puts the files it keeps. */
export interface ArtifactSink {
  /** Stores `data` as `name` and records it. */
  write(name: string, data: string | Buffer, contentType: string): Promise<ArtifactRef>;
  /** Moves or copies an existing file in as `name` and records it. */
  add(name: string, path: string, contentType: string): Promise<ArtifactRef>;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/** Artifacts of one capture, kept in `dir` and named `<capture>.<name>` or `<capture>-<name>`. */
export class ArtifactDirectory implements ArtifactSink {
  readonly refs: ArtifactRef[] = [];

  constructor(
    readonly dir: string,
    private readonly capture: string,
  ) {}

  private target(name: string): string {
    const file = `${this.capture}-${name}`;
    if (!safeName.test(file) || basename(file) !== file) throw new Error(`artifact name "${name}" is not a plain file name`);
    return join(this.dir, file);
  }

  private async record(path: string, contentType: string): Promise<ArtifactRef> {
    const ref: ArtifactRef = {
      name: basename(path),
      capture: this.capture,
      sizeBytes: (await stat(path)).size,
      sha256: await sha256File(path),
      contentType,
    };
    this.refs.push(ref);
    return ref;
  }

  async write(name: string, data: string | Buffer, contentType: string): Promise<ArtifactRef> {
    await mkdir(this.dir, { recursive: true });
    const path = this.target(name);
    await writeFile(path, data);
    return this.record(path, contentType);
  }

  async add(name: string, source: string, contentType: string): Promise<ArtifactRef> {
    await mkdir(this.dir, { recursive: true });
    const path = this.target(name);
    await copyFile(source, path);
    return this.record(path, contentType);
  }
}
