import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { customResourceDefinition, structural } from '../../api/crd.js';
import { staleFiles } from '../../api/generate.js';
import { captureEntryFor, captureKindIds, investigationSpec, mitigationSpec, resolveCaptureEntry, resources } from '../../api/v1alpha1/index.js';
import { projectRoot } from '../../lib/paths.js';

const examples = join(projectRoot, 'manifests', 'examples');

describe('generated CRDs', () => {
  it('are up to date with the zod schemas (run npm run generate)', async () => {
    expect(await staleFiles()).toEqual([]);
  });

  it('have the short names, status subresource and printer columns', () => {
    const shortNames = Object.values(resources).map((r) => {
      const crd = customResourceDefinition(r) as {
        spec: { names: { shortNames: string[] }; versions: { subresources: unknown; additionalPrinterColumns: unknown[] }[] };
      };
      expect(crd.spec.versions[0]!.subresources).toEqual({ status: {} });
      expect(crd.spec.versions[0]!.additionalPrinterColumns.length).toBeGreaterThan(3);
      return crd.spec.names.shortNames[0];
    });
    expect(shortNames).toEqual(['kinv', 'kcap', 'kmit', 'knode', 'ktrig']);
  });

  it('refuses a schema that is not structural', () => {
    expect(() => structural({ type: 'object', properties: { x: { anyOf: [{ type: 'string' }, { type: 'integer' }] } } })).toThrow(
      /\$\.x: anyOf makes the schema non-structural/,
    );
    expect(() => structural({ type: 'object', properties: { x: { description: 'no type' } } })).toThrow(/\$\.x: every field needs a type/);
  });
});

describe('capture entries', () => {
  it('resolve to their kind with defaults applied', () => {
    const resolved = resolveCaptureEntry(captureEntryFor('cpu-profile'));
    expect(resolved).toEqual({ kind: 'cpu-profile', name: 'cpu-profile', params: { frequencyHz: 99, topN: 20 } });
    expect(resolveCaptureEntry({ name: 'journal', ftrace: { mode: 'events', events: ['jbd2:jbd2_end_commit'] } }).name).toBe('journal');
  });

  it('refuse an entry with no kind or two kinds', () => {
    expect(() => resolveCaptureEntry({})).toThrow(/sets no capture kind/);
    expect(() => resolveCaptureEntry({ memory: {}, slab: {} } as never)).toThrow(/sets 2 capture kinds \(slab, memory\)|sets 2 capture kinds \(memory, slab\)/);
  });

  it('exist for every kind', () => {
    for (const kind of captureKindIds)
      expect(
        resolveCaptureEntry(
          captureEntryFor(kind, kind === 'bpftrace' ? { program: 'BEGIN { exit(); }' } : kind === 'ftrace' ? { events: ['sched:sched_switch'] } : {}),
        ).kind,
      ).toBe(kind);
  });
});

async function exampleDocs(dir: string): Promise<{ file: string; doc: { kind: string; spec: unknown } }[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml'));
  const docs = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) docs.push({ file, doc: doc.toJS() as { kind: string; spec: unknown } });
  }
  return docs;
}

describe('example resources', () => {
  it('valid examples pass the zod schemas', async () => {
    const docs = await exampleDocs(examples);
    expect(docs.length).toBeGreaterThanOrEqual(5);
    for (const { file, doc } of docs) {
      const schema = doc.kind === 'KernelInvestigation' ? investigationSpec : mitigationSpec;
      const result = schema.safeParse(doc.spec);
      expect(result.success, `${file}: ${result.error?.message}`).toBe(true);
    }
  });

  it('invalid examples fail the zod schemas too', async () => {
    const docs = await exampleDocs(join(examples, 'invalid'));
    expect(docs.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of docs) {
      const schema = doc.kind === 'KernelInvestigation' ? investigationSpec : mitigationSpec;
      expect(schema.safeParse(doc.spec).success, file).toBe(false);
    }
  });
});
