import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../../lib/paths.js';
import { shippedRulesFile } from '../../node-agent/patterns/kernel-log/rules.js';
import { shippedAllowListPath } from '../../lib/sysctl/index.js';
import { shippedWatchConfigFile } from '../../node-agent/watch/config.js';

const run = promisify(execFile);

/**
 * What the Dockerfiles say, checked without building: every COPY source exists and passes the
 * image's .dockerignore, the runtime stage carries every file the code reads from the project root,
 * the base images are ones hack/build-images.sh makes here, and the compiled dist/ starts from that
 * layout with the production dependencies alone. test/real-node/ builds the images and runs them.
 */
const images = ['operator', 'agent'] as const;
const dataFiles = {
  operator: ['package.json', relative(projectRoot, shippedAllowListPath)],
  agent: ['package.json', relative(projectRoot, shippedAllowListPath), relative(projectRoot, shippedRulesFile), relative(projectRoot, shippedWatchConfigFile)],
};

interface Copy {
  stage: number;
  from?: string;
  sources: string[];
  destination: string;
}

async function dockerfile(image: string): Promise<{ text: string; copies: Copy[]; stages: number }> {
  const text = await readFile(join(projectRoot, 'images', `${image}.Dockerfile`), 'utf8');
  const copies: Copy[] = [];
  let stage = -1;
  for (const line of text.split('\n')) {
    if (/^FROM\s/.test(line)) stage++;
    const copy = /^COPY\s+(?:--from=(\S+)\s+)?(.+)$/.exec(line);
    if (!copy) continue;
    const parts = copy[2]!.trim().split(/\s+/);
    copies.push({ stage, from: copy[1], sources: parts.slice(0, -1), destination: parts.at(-1)! });
  }
  return { text, copies, stages: stage + 1 };
}

/** Whether a path is sent to the build: the .dockerignore lists "*" and then exceptions. */
async function inContext(image: string, path: string): Promise<boolean> {
  const rules = (await readFile(join(projectRoot, 'images', `${image}.Dockerfile.dockerignore`), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let included = true;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    const pattern = (negated ? rule.slice(1) : rule).replace(/\/$/, '');
    const regex = new RegExp(
      `^${pattern
        .split('**/')
        .map((p) => p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
        .join('(?:.*/)?')}(?:/.*)?$`,
    );
    if (regex.test(path)) included = negated;
  }
  return included;
}

let root: string;

describe('the images', () => {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ksleuth-image-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it.each(images)('%s: every COPY from the build context exists and passes its .dockerignore', async (image) => {
    const { copies, stages } = await dockerfile(image);
    expect(stages).toBe(3);
    for (const copy of copies.filter((c) => !c.from)) {
      for (const source of copy.sources) {
        expect(existsSync(join(projectRoot, source)), source).toBe(true);
        expect(await inContext(image, source), `${source} is excluded by ${image}.Dockerfile.dockerignore`).toBe(true);
      }
    }
    expect(await inContext(image, 'node_modules/zod/package.json')).toBe(false);
    expect(await inContext(image, 'test/chart/images.test.ts')).toBe(false);
  });

  it.each(images)('%s: the runtime stage holds dist, the production dependencies and every data file the code loads', async (image) => {
    const { copies, text } = await dockerfile(image);
    const runtime = copies.filter((c) => c.stage === 2);
    expect(runtime).toContainEqual({ stage: 2, from: 'build', sources: ['/src/dist'], destination: 'dist' });
    expect(runtime).toContainEqual({ stage: 2, from: 'dependencies', sources: ['/app/node_modules'], destination: 'node_modules' });
    const copied = runtime.filter((c) => !c.from).map((c) => (c.destination === './' ? c.sources[0]! : c.destination));
    expect(copied.sort()).toEqual([...dataFiles[image]].sort());
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/RUN npm run build/);
    expect(text).toMatch(new RegExp(`ENTRYPOINT \\[.*"/app/dist/${image === 'agent' ? 'node-agent' : 'operator'}/main\\.js"\\]`));
  });

  it('agent: installs the tools the captures and the bundle run, and the node binary alone', async () => {
    const { text, copies } = await dockerfile('agent');
    for (const pkg of ['bpftrace', 'linux-perf', 'iproute2', 'procps', 'util-linux', 'pciutils', 'tar', 'openssl'])
      expect(text).toMatch(new RegExp(`apt-get install[^\\n]*\\\\\\n[^\\n]*\\b${pkg}\\b`));
    // The ftrace capture writes tracefs itself; trace-cmd would only add weight.
    // The runtime stage's install (the build stage installs a C compiler before it).
    const install = [...text.matchAll(/^RUN apt-get update(?:[^\n]*\\\n)*[^\n]*$/gm)].at(-1)?.[0];
    expect(install).toMatch(/bpftrace/);
    expect(install).not.toMatch(/trace-cmd/);
    expect(copies).toContainEqual({ stage: 2, from: 'build', sources: ['/usr/local/bin/node'], destination: '/usr/local/bin/node' });
    // The native addon is built into dist/ (which the runtime stage copies), and its absence fails the build.
    expect(text).toMatch(/^RUN npm run build && node hack\/build-native\.mjs --required$/m);
    expect(text).toMatch(/apt-get install -y --no-install-recommends gcc libc6-dev/);
  });

  it.each(images)('%s: starts from a supported Node.js LTS, and from base images hack/build-images.sh makes where there is no registry', async (image) => {
    const { text } = await dockerfile(image);
    const args = Object.fromEntries([...text.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(args.NODE_IMAGE).toBe('node:24-bookworm-slim');
    expect(args.RUNTIME_IMAGE).toBe(image === 'agent' ? 'debian:bookworm-slim' : 'gcr.io/distroless/nodejs24-debian12:nonroot');
    const { stdout } = await run('bash', [join(projectRoot, 'hack', 'build-images.sh'), '--base-images']);
    const made = stdout.trim().split('\n');
    const normalize = (ref: string) => (ref.split('/')[0]!.includes('.') ? ref : `docker.io/library/${ref}`);
    for (const ref of [args.NODE_IMAGE!, args.RUNTIME_IMAGE!]) expect(made).toContain(normalize(ref));
  });

  it("the chart's image tags are the version the code reports", async () => {
    const chart = parse(await readFile(join(projectRoot, 'charts', 'ksleuth', 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(await readFile(join(projectRoot, 'package.json'), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
  });

  it('the compiled operator and agent start from the image layout with production dependencies only', async () => {
    const app = join(root, 'app');
    await run(join(projectRoot, 'node_modules', '.bin', 'tsc'), ['-p', join(projectRoot, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], {
      cwd: projectRoot,
    });
    for (const file of new Set([...dataFiles.operator, ...dataFiles.agent])) {
      await mkdir(dirname(join(app, file)), { recursive: true });
      await cp(join(projectRoot, file), join(app, file));
    }
    // node_modules with only what `npm ci --omit=dev` installs, linked from the project's.
    const lock = JSON.parse(await readFile(join(projectRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    for (const [path, info] of Object.entries(lock.packages)) {
      if (!/^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) || info.dev || !existsSync(join(projectRoot, path))) continue;
      await mkdir(dirname(join(app, path)), { recursive: true });
      await symlink(join(projectRoot, path), join(app, path));
    }
    expect(existsSync(join(app, 'node_modules', 'zod'))).toBe(true);
    expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false);
    const operator = await run(process.execPath, [join(app, 'dist', 'operator', 'main.js'), '--help'], { cwd: root });
    expect(operator.stdout).toMatch(/--leader-elect/);
    // The agent loads the kernel-log rules and every capture module when it starts; with no
    // cluster to reach it stops at its kubeconfig, after that.
    const agent = await run(process.execPath, [join(app, 'dist', 'node-agent', 'main.js'), '--kubeconfig', join(root, 'missing.kubeconfig')], {
      cwd: root,
      env: { ...process.env, NODE_NAME: 'node-1', KUBECONFIG: '' },
    }).then(
      () => ({ stderr: '' }),
      (error: { stderr: string }) => error,
    );
    expect(agent.stderr).toContain('missing.kubeconfig');
    expect(agent.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)|rules\.yaml|watch\.yaml|sysctl-allowlist\.yaml/);
  }, 180_000);
});
