import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../paths.js';
import { AllowListError, buildAllowList, type AllowList, type AllowListSource } from './allowlist.js';

/** The allow-list shipped with ksleuth. */
export const shippedAllowListPath = join(projectRoot, 'config', 'sysctl-allowlist.yaml');

export interface LoadAllowListOptions {
  /** Replaces the shipped file (tests). */
  basePath?: string;
  /** Extra files, YAML or JSON, merged in order: the chart's --allowlist-extra. */
  extraPaths?: readonly string[];
}

/** Reads, validates and merges the allow-list files; throws AllowListError naming the bad file and entry. */
export async function loadAllowList(options: LoadAllowListOptions = {}): Promise<AllowList> {
  const paths = [options.basePath ?? shippedAllowListPath, ...(options.extraPaths ?? [])];
  const sources: AllowListSource[] = [];
  for (const path of paths) sources.push({ source: displayPath(path), data: await readAllowListFile(path) });
  return buildAllowList(sources);
}

async function readAllowListFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new AllowListError(`cannot read the sysctl allow-list ${displayPath(path)}: ${(error as Error).message}`);
  }
  try {
    // JSON is YAML, so one parser reads both.
    return parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    throw new AllowListError(`${displayPath(path)} is not valid YAML or JSON: ${(error as Error).message}`);
  }
}

/** Files inside the project are named relative to it (config/sysctl-allowlist.yaml), others as given. */
function displayPath(path: string): string {
  const fromRoot = relative(projectRoot, path);
  return isAbsolute(path) && !fromRoot.startsWith('..') ? fromRoot : path;
}
