import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One metric family as the reference Prometheus parser (expfmt) reads it. */
export interface ParsedFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  samples: { labels: Record<string, string>; value?: number; count?: number; sum?: number; buckets?: Record<string, number> }[];
}

const source = fileURLToPath(new URL('./promcheck/', import.meta.url));
let built: Promise<string> | undefined;

function run(command: string, args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { cwd: options.cwd, env: options.env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Builds test/runtime/promcheck (Go, prometheus/common/expfmt) once per test process. */
function binary(): Promise<string> {
  built ??= (async () => {
    const dir = join(homedir(), '.cache', 'ksleuth', 'promcheck');
    await mkdir(dir, { recursive: true });
    const output = join(dir, 'promcheck');
    await run('go', ['build', '-o', output, '.'], { cwd: source, env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' } });
    return output;
  })();
  return built;
}

const nonFinite: Record<string, number> = { NaN: Number.NaN, '+Inf': Number.POSITIVE_INFINITY, '-Inf': Number.NEGATIVE_INFINITY };

/** Parses Prometheus text exposition with Prometheus' own parser; rejects with its error. */
export async function parsePrometheusText(text: string): Promise<ParsedFamily[]> {
  // promcheck writes NaN and infinities, which JSON lacks, as strings.
  return JSON.parse(await run(await binary(), [], { input: text }), (key, value: unknown) =>
    (key === 'value' || key === 'sum') && typeof value === 'string' ? nonFinite[value] : value,
  ) as ParsedFamily[];
}
