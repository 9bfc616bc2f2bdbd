/**
 * Which pod and container a process belongs to, read from its cgroup path: the kubelet puts every
 * pod in a cgroup named after the pod's UID, and the container runtime puts every container (the
 * pod's sandbox, "pause", too) in a child named after the container ID. Pure: the text of
 * /proc/<pid>/cgroup, or one path (an OOM-kill line's task_memcg), in; no I/O.
 *
 * The names by cgroup driver (the kubelet's cgroupDriver) and runtime:
 *   cgroupfs: .../kubepods[/burstable|/besteffort]/pod<uid>/<container id>
 *             (containerd and Docker name the container cgroup by its bare ID, CRI-O "crio-<id>")
 *   systemd:  .../kubepods.slice[/kubepods-<qos>.slice]/kubepods[-<qos>]-pod<uid with _>.slice/
 *             cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
 * The kubepods part may sit below other cgroups (a node's own parent, kind's kubelet.slice) and,
 * read from inside a cgroup namespace, behind "/../..": only the pod and container segments count.
 */

/** One line of /proc/<pid>/cgroup: "hierarchy-ID:controller-list:path". */
export interface CgroupLine {
  hierarchy: number;
  /** The v1 controllers of the hierarchy ("cpu,cpuacct", "name=systemd"); empty for the v2 unified hierarchy. */
  controllers: string[];
  path: string;
}

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** A pod's cgroup, and the container's inside it when the path reaches that far. */
export interface PodCgroup {
  /** The pod's metadata.uid, with dashes, as the API server shows it. */
  podUid: string;
  qos: QosClass;
  /** The container ID as in a pod's status.containerStatuses[].containerID, without the "<runtime>://" prefix. */
  containerId?: string;
  /** The runtime the cgroup name points to, where the name says it. */
  runtime?: 'containerd' | 'cri-o' | 'docker';
  /** CRI-O's conmon, the container's monitor process, runs in a cgroup of its own beside the container's. */
  monitor?: boolean;
}

const linePattern = /^(\d+):([^:]*):(.*)$/;

/** Parses /proc/<pid>/cgroup. Lines that are not "id:controllers:path" are refused with their text. */
export function parseProcCgroup(text: string): CgroupLine[] {
  const lines: CgroupLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    const match = linePattern.exec(raw);
    if (!match) throw new Error(`not a /proc/<pid>/cgroup line: ${JSON.stringify(raw.slice(0, 200))}`);
    lines.push({ hierarchy: Number(match[1]), controllers: match[2] ? match[2].split(',') : [], path: match[3]! });
  }
  return lines;
}

const uid = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
/** cgroupfs "pod<uid>", systemd "kubepods-burstable-pod<uid_with_underscores>.slice". */
const podSegment = new RegExp(`^(?:(?:[a-z0-9]+-)*kubepods(?:-(burstable|besteffort))?-)?pod(${uid})(?:\\.slice)?$`);
const containerSegment = /^(?:(cri-containerd|crio-conmon|crio|docker)-)?([0-9a-f]{64})(?:\.scope)?$/;
const runtimeByPrefix = { 'cri-containerd': 'containerd', crio: 'cri-o', 'crio-conmon': 'cri-o', docker: 'docker' } as const;

/** The pod (and container) a cgroup path names, or undefined for a path outside any pod: a host process. */
export function podOfCgroupPath(path: string): PodCgroup | undefined {
  const segments = path.split('/').filter((s) => s !== '' && s !== '..');
  for (let i = segments.length - 1; i >= 0; i--) {
    const pod = podSegment.exec(segments[i]!);
    if (!pod) continue;
    const qos = pod[1] ?? segments[i - 1]?.replace(/^kubepods-/, '').replace(/\.slice$/, '');
    const result: PodCgroup = {
      podUid: pod[2]!.replace(/_/g, '-'),
      qos: qos === 'burstable' ? 'Burstable' : qos === 'besteffort' ? 'BestEffort' : 'Guaranteed',
    };
    const container = segments[i + 1] !== undefined ? containerSegment.exec(segments[i + 1]!) : undefined;
    if (container) {
      const prefix = container[1] as keyof typeof runtimeByPrefix | undefined;
      result.containerId = container[2]!;
      // A bare ID under cgroupfs is containerd's or Docker's: the name alone does not tell which.
      if (prefix) result.runtime = runtimeByPrefix[prefix];
      if (prefix === 'crio-conmon') result.monitor = true;
    }
    return result;
  }
  return undefined;
}

/**
 * Where a process is, from its /proc/<pid>/cgroup: the first line that names a pod, taking the
 * memory controller's first (the one an OOM kill names), then the unified hierarchy's, then the
 * rest. undefined when no line names a pod: the process runs on the host.
 */
export function podOfProcess(lines: CgroupLine[]): PodCgroup | undefined {
  const rank = (line: CgroupLine): number => (line.controllers.includes('memory') ? 0 : line.controllers.length === 0 ? 1 : 2);
  for (const line of [...lines].sort((a, b) => rank(a) - rank(b))) {
    const pod = podOfCgroupPath(line.path);
    if (pod) return pod;
  }
  return undefined;
}
