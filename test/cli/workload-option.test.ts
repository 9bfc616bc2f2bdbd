import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workloadFromOption } from '../../cli/workload-option.js';

const dir = mkdtempSync(join(tmpdir(), 'ksleuth-workload-option-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return `@${path}`;
}

describe('ksleuth investigate --workload', () => {
  it('names a built-in reproducer by its id', () => {
    expect(workloadFromOption('tcp-churn')).toEqual({ tcpChurn: {} });
    expect(workloadFromOption('socket-leak')).toEqual({ socketLeak: {} });
    expect(workloadFromOption(undefined)).toBeUndefined();
  });

  it('takes a Pod manifest as kubectl run --dry-run writes it, leaving out what the operator owns', () => {
    const pod = file(
      'pod.yaml',
      `apiVersion: v1
kind: Pod
metadata: {name: load, labels: {run: load}, creationTimestamp: null}
spec:
  containers:
  - {name: load, image: busybox, args: [sh, -c, 'yes > /dev/null'], resources: {}}
  dnsPolicy: ClusterFirst
  restartPolicy: Always
status: {}
`,
    );
    expect(workloadFromOption(pod)).toEqual({
      pod: {
        template: {
          metadata: { labels: { run: 'load' } },
          spec: { containers: [{ name: 'load', image: 'busybox', args: ['sh', '-c', 'yes > /dev/null'], resources: {} }], dnsPolicy: 'ClusterFirst' },
        },
      },
    });
  });

  it('takes a spec.workload in YAML, checked by the API schema', () => {
    expect(workloadFromOption(file('w.yaml', 'fsSync: {fileBytes: 4096}\n'))).toEqual({ fsSync: { fileBytes: 4096 } });
    expect(() => workloadFromOption(file('bad.yaml', 'fsSync: {fileBytes: 1}\n'))).toThrow(/--workload @.*bad\.yaml: spec\.workload\.fsSync\.fileBytes: /);
    expect(() => workloadFromOption(file('pod-no-image.yaml', 'kind: Pod\nspec: {containers: [{name: a}]}\n'))).toThrow(
      /spec\.workload\.pod\.template\.spec\.containers\.0\.image/,
    );
  });

  it('refuses an unknown name or a missing file, saying what to give', () => {
    expect(() => workloadFromOption('churn')).toThrow(
      '--workload churn: use one of tcp-churn, fs-sync, socket-leak, or @FILE with a Pod manifest or a spec.workload',
    );
    expect(() => workloadFromOption('@/nonexistent/ksleuth.yaml')).toThrow(/--workload @\/nonexistent\/ksleuth\.yaml: ENOENT/);
  });
});
