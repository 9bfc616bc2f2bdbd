import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { projectRoot } from '../../lib/paths.js';

/** One KernelInvestigation or KernelMitigation shown to users, with where it is shown. */
export interface ExampleDoc {
  /** manifests/examples/<file>, or README.md#<n> for the n-th YAML block of the README. */
  source: string;
  kind: string;
  name: string;
  spec: Record<string, unknown>;
}

const examples = join(projectRoot, 'manifests', 'examples');

/** The valid examples in manifests/examples (not the invalid/ ones). */
export function exampleFiles(): ExampleDoc[] {
  return readdirSync(examples)
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(examples, file), 'utf8')).map((doc) => {
        const value = doc.toJS() as { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
        return { source: `manifests/examples/${file}`, kind: value.kind, name: value.metadata.name, spec: value.spec };
      }),
    );
}

/** The ksleuth objects in the README's YAML blocks. */
export function readmeExamples(): ExampleDoc[] {
  const text = readFileSync(join(projectRoot, 'README.md'), 'utf8');
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].flatMap((match, i) => {
    const value = parse(match[1]!) as { apiVersion?: string; kind?: string; metadata?: { name: string }; spec?: Record<string, unknown> } | null;
    if (!value?.apiVersion?.startsWith('ksleuth.io/')) return [];
    return [{ source: `README.md#${i + 1}`, kind: value.kind!, name: value.metadata!.name, spec: value.spec! }];
  });
}
