import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

/**
 * The folders are the architecture. A file may import from its own folder and from folders on a
 * lower layer; never from a sibling on the same layer, never from above. Tooling (hack, bench,
 * test) sits on top and may import anything; product code never imports tooling.
 */
const topLayers: Record<string, number> = { api: 0, lib: 1, runtime: 2, operator: 3, 'node-agent': 3, cli: 4 };

/**
 * Layers inside a top-level folder, by sub-folder; '' is files directly in the folder. In the node
 * agent, procfs/ (pure parsers of kernel files) sits at the bottom beside engine/ because both the
 * captures and the always-on watch read those files; the watch is a sibling of the captures: it
 * shares with them only what lies below (procfs/, patterns/, engine/), and the agent runs both.
 */
const innerLayers: Record<string, Record<string, number>> = {
  'node-agent': { engine: 0, flamegraph: 0, sysctl: 0, procfs: 0, patterns: 1, captures: 2, reproducers: 2, watch: 2, worker: 3, agent: 4, '': 5 },
  operator: { nodes: 0, artifacts: 1, investigation: 1, mitigation: 1, triggers: 1, '': 2 },
};

interface Place {
  top: string;
  /** The sub-folder that is a unit of its own (one capture kind is one unit). */
  unit: string;
  rank: number;
}

function place(file: string): Place | undefined {
  const parts = relative(projectRoot, file).split('/');
  const top = parts[0]!;
  if (!(top in topLayers)) return undefined;
  const inner = innerLayers[top];
  if (!inner) return { top, unit: top, rank: 0 };
  const sub = parts.length > 2 ? parts[1]! : '';
  // Each capture kind is its own unit on the captures layer; the registry above them lists them all.
  if (top === 'node-agent' && sub === 'captures') {
    return parts.length > 3 ? { top, unit: `captures/${parts[2]}`, rank: 2 } : { top, unit: 'captures', rank: 2.5 };
  }
  return { top, unit: sub, rank: inner[sub] ?? Number.NaN };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Relative module specifiers of static imports, re-exports and dynamic imports. */
function importsOf(text: string): string[] {
  const specifiers: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)) {
    specifiers.push((match[1] ?? match[2])!);
  }
  return specifiers;
}

function violation(from: string, to: string): string | undefined {
  const a = place(from);
  const b = place(to);
  const edge = `${relative(projectRoot, from)} imports ${relative(projectRoot, to)}`;
  if (!a) return undefined;
  if (!b) return `${edge}: product code must not import tooling`;
  if (a.top !== b.top) {
    const [ra, rb] = [topLayers[a.top]!, topLayers[b.top]!];
    if (rb < ra) return undefined;
    return rb === ra ? `${edge}: ${a.top}/ and ${b.top}/ are siblings` : `${edge}: ${b.top}/ is above ${a.top}/`;
  }
  if (a.unit === b.unit) return undefined;
  if (Number.isNaN(a.rank) || Number.isNaN(b.rank))
    return `${edge}: give ${a.top}/${Number.isNaN(a.rank) ? a.unit : b.unit} a layer in test/architecture/layers.test.ts`;
  if (b.rank < a.rank) return undefined;
  return b.rank === a.rank ? `${edge}: ${a.unit}/ and ${b.unit}/ are siblings` : `${edge}: ${b.unit}/ is above ${a.unit}/`;
}

describe('layers', () => {
  it('no product folder imports a sibling or a folder above it', () => {
    const problems: string[] = [];
    let edges = 0;
    for (const top of Object.keys(topLayers)) {
      for (const file of sourceFiles(join(projectRoot, top))) {
        for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
          edges++;
          const target = resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
          const problem = violation(file, target);
          if (problem) problems.push(problem);
        }
      }
    }
    expect(edges).toBeGreaterThan(300);
    expect(problems).toEqual([]);
  });

  it('reports the kinds of import it forbids', () => {
    const at = (path: string): string => join(projectRoot, path);
    expect(violation(at('operator/operator.ts'), at('node-agent/engine/run.ts'))).toMatch(/siblings/);
    expect(violation(at('lib/log.ts'), at('runtime/manager.ts'))).toMatch(/runtime\/ is above lib\//);
    expect(violation(at('node-agent/captures/ftrace/analyze.ts'), at('node-agent/captures/io-latency/analyze.ts'))).toMatch(/siblings/);
    expect(violation(at('node-agent/engine/run.ts'), at('node-agent/captures/registry.ts'))).toMatch(/above/);
    expect(violation(at('lib/paths.ts'), at('test/harness/cluster.ts'))).toMatch(/tooling/);
    expect(violation(at('node-agent/worker/main.ts'), at('node-agent/captures/registry.ts'))).toBeUndefined();
    expect(violation(at('node-agent/watch/watch.ts'), at('node-agent/captures/slab/analyze.ts'))).toMatch(/siblings/);
    expect(violation(at('node-agent/watch/watch.ts'), at('node-agent/procfs/slabinfo.ts'))).toBeUndefined();
    expect(violation(at('node-agent/procfs/slabinfo.ts'), at('node-agent/engine/run.ts'))).toMatch(/siblings/);
    expect(violation(at('cli/main.ts'), at('node-agent/engine/run.ts'))).toBeUndefined();
    expect(importsOf("import a from './a.js';\nexport { b } from '../b.js';\nconst c = await import('./c.js');")).toEqual(['./a.js', '../b.js', './c.js']);
  });
});
