import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureKindIds } from '../../api/v1alpha1/captures.js';
import { commandSpec } from '../../cli/completion/spec.js';
import { projectRoot } from '../../lib/paths.js';

/* The generated completion scripts, run in the real shells. */

const exec = promisify(execFile);
const bin = join(projectRoot, 'bin');
let dir: string;
const scripts: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksleuth-completion-'));
  for (const shell of ['bash', 'zsh', 'fish']) {
    const { stdout } = await exec(join(bin, 'ksleuth'), ['completion', shell]);
    scripts[shell] = join(dir, `ksleuth.${shell}`);
    await writeFile(scripts[shell], stdout);
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What bash completes for the words typed so far (the last one being completed). */
async function bash(...words: string[]): Promise<string[]> {
  const script = `source ${scripts.bash}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ksleuth; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const { stdout } = await exec('bash', ['-c', script], {
    cwd: dir,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, KUBECONFIG: join(dir, 'none') },
  });
  return stdout.split('\n').filter(Boolean);
}

async function fish(line: string): Promise<string[]> {
  const { stdout } = await exec('fish', ['--no-config', '-c', `source ${scripts.fish}; complete -C '${line}'`], { cwd: dir });
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!);
}

describe('shell completion', () => {
  it('bash completes commands, verbs, flags and their values', async () => {
    expect(await bash('ksleuth', 'g')).toEqual(['get']);
    expect(await bash('ksleuth', 'flamegraph', '')).toEqual(['collapse', 'svg', 'speedscope', 'diff', 'pprof']);
    expect(await bash('ksleuth', 'get', '--f')).toEqual(['--fail-on']);
    expect(await bash('ksleuth', 'get', '-o', '')).toEqual(['wide', 'json', 'yaml', 'name']);
    expect(await bash('ksleuth', 'investigate', '--capture', '')).toEqual(captureKindIds);
    expect(await bash('ksleuth', 'investigate', '--compare-by', '')).toEqual(['kernel', 'label=']);
    expect(await bash('ksleuth', 'investigate', '--as-g')).toEqual(['--as-group']);
    expect(await bash('ksleuth', 'get', '--verb')).toEqual(['--verbose']);
  });

  it('fish completes the same from its own script', async () => {
    expect(await fish('ksleuth fl')).toEqual(['flamegraph']);
    expect(await fish('ksleuth flamegraph ')).toEqual(expect.arrayContaining(['collapse', 'svg', 'speedscope', 'diff', 'pprof']));
    expect(await fish('ksleuth get --fail-on ')).toEqual(['critical', 'info', 'warning']);
    expect(await fish('ksleuth get --out')).toEqual(['--output']);
    expect(await fish('kubectl-ksleuth mitigation ')).toEqual(expect.arrayContaining(['from-finding']));
  });

  it('zsh loads its script and defines the completion function', async () => {
    await exec('zsh', ['-n', scripts.zsh!]);
    const { stdout } = await exec('zsh', [
      '-f',
      '-c',
      `autoload -U compinit; compinit -u -d ${join(dir, 'zcompdump')}; source ${scripts.zsh}; whence -w _ksleuth; echo $_comps[ksleuth]`,
    ]);
    expect(stdout.trim().split('\n')).toEqual(['_ksleuth: function', '_ksleuth']);
  });
});

describe('completion specs from usage texts', () => {
  it('reads flags, values, short forms, verbs and investigation arguments', () => {
    const spec = commandSpec(
      'thing',
      'Does things',
      `  ksleuth thing run INVESTIGATION [--mode fast|slow]
  ksleuth thing stop
  -o, --output json|yaml
  --file PATH        a file
  --count N          how many
  --quiet            say less (--mode matters)`,
    );
    expect(spec.verbs).toEqual(['run', 'stop']);
    expect(spec.takesInvestigation).toBe(true);
    const flags = Object.fromEntries(spec.flags.map((f) => [f.name, f]));
    expect(flags['--mode']).toMatchObject({ takesValue: true, values: ['fast', 'slow'] });
    expect(flags['--output']).toMatchObject({ short: '-o', values: ['json', 'yaml'] });
    expect(flags['--file']).toMatchObject({ takesValue: true, file: true });
    expect(flags['--count']).toMatchObject({ takesValue: true });
    expect(flags['--count']!.file).toBeUndefined();
    expect(flags['--quiet']).toMatchObject({ takesValue: false });
    expect(flags['--verbose']).toMatchObject({ short: '-v' });
  });
});
