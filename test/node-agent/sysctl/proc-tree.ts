import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sysctlPath } from '../../../node-agent/sysctl/names.js';
import { tempDir } from './temp-dirs.js';

/**
 * A temporary directory laid out like /proc/sys, for pure-logic tests of the reconciler: values
 * are stored as the kernel prints them (tabs between tuple fields, trailing newline).
 */
export interface ProcTree {
  procRoot: string;
  stateDir: string;
  hostRoot: string;
  /** The raw file content, as the reconciler left it. */
  raw(name: string): Promise<string>;
  /** Sets a value behind the agent's back, as `sysctl -w` would. */
  set(name: string, value: string): Promise<void>;
  setBootId(id: string): Promise<void>;
}

export async function makeProcTree(values: Record<string, string>, bootId = 'boot-1'): Promise<ProcTree> {
  const root = await tempDir('ksleuth-sysctl-');
  const procRoot = join(root, 'proc');
  const set = async (name: string, value: string) => {
    const path = sysctlPath(procRoot, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${value.trim().split(/\s+/).join('\t')}\n`);
  };
  for (const [name, value] of Object.entries(values)) await set(name, value);
  const tree: ProcTree = {
    procRoot,
    stateDir: join(root, 'state'),
    hostRoot: join(root, 'host'),
    raw: (name) => readFile(sysctlPath(procRoot, name), 'utf8'),
    set,
    setBootId: (id) => set('kernel.random.boot_id', id),
  };
  await tree.setBootId(bootId);
  await mkdir(tree.hostRoot, { recursive: true });
  return tree;
}
