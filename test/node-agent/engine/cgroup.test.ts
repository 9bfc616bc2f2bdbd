import { describe, expect, it } from 'vitest';
import { parseProcCgroup, podOfCgroupPath, podOfProcess } from '../../../node-agent/engine/cgroup.js';
import { fixture } from '../fixtures.js';

const of = (name: string) => podOfProcess(parseProcCgroup(fixture('cgroup', name)));

describe('podOfProcess, recorded on the real node (cgroup v1, cgroupfs driver, containerd)', () => {
  it('names the pod UID and the container ID the pod status shows, for each QoS class', () => {
    expect(of('v1-cgroupfs-containerd-guaranteed.txt')).toEqual({
      podUid: '289fd9dd-b7aa-49a4-989b-538ea8b836d5',
      qos: 'Guaranteed',
      containerId: 'dae2046af2e96b921dd24c1dabb3d172dcaf26afc5a6689bc4d137de2805d54d',
    });
    expect(of('v1-cgroupfs-containerd-burstable.txt')).toEqual({
      podUid: '983e1b16-a61c-4513-a22c-5a5cdb658458',
      qos: 'Burstable',
      containerId: '6a92b2a0b0a48cb757c31e7d8452f9fe423fed41b253a601a4eec3f4ef6c2e9e',
    });
    expect(of('v1-cgroupfs-containerd-besteffort.txt')).toEqual({
      podUid: 'afe24ab9-1438-4d01-b942-878cfec907f5',
      qos: 'BestEffort',
      containerId: 'b913b342fa0a02d4ae735dfc7d1c90941407fac4ec62ecb3f990e84602ab6711',
    });
  });

  it('gives the sandbox its own ID in the same pod', () => {
    expect(of('v1-cgroupfs-containerd-sandbox.txt')).toMatchObject({
      podUid: '289fd9dd-b7aa-49a4-989b-538ea8b836d5',
      containerId: '7d75c2273221cb737903aef46940413aaf64211dc37b1c2a9a37ddb8ba5a6ff7',
    });
  });

  it('finds no pod for host processes: the kubelet and pid 1', () => {
    expect(of('v1-host-kubelet.txt')).toBeUndefined();
    expect(of('v1-host-init.txt')).toBeUndefined();
  });

  it('reads every line: v1 controllers, named hierarchies and the unified one', () => {
    const lines = parseProcCgroup(fixture('cgroup', 'v1-cgroupfs-containerd-guaranteed.txt'));
    expect(lines).toHaveLength(10);
    expect(lines.find((l) => l.controllers.includes('memory'))?.hierarchy).toBe(4);
    expect(lines.find((l) => l.controllers.includes('name=systemd'))).toBeDefined();
    expect(lines.find((l) => l.hierarchy === 0)?.controllers).toEqual([]);
  });
});

describe('podOfProcess, other drivers and runtimes (documented naming; see the fixtures README)', () => {
  it('systemd driver with containerd on cgroup v2: underscores become dashes again', () => {
    expect(of('v2-systemd-containerd-burstable.txt')).toEqual({
      podUid: '5e2c1b4a-8f3d-4c6e-9a1b-2d7f0e9c4b31',
      qos: 'Burstable',
      containerId: '3f9a1c7e2b8d4f6a0c5e9b1d7a3f8c2e6b4d0a9f1c7e3b5d8a2f6c0e4b9d1a7f',
      runtime: 'containerd',
    });
  });

  it('CRI-O: the container and its conmon, which is marked as the monitor', () => {
    const container = of('v2-systemd-crio-besteffort.txt');
    expect(container).toEqual({
      podUid: '0c6d2e8a-1b4f-4a7e-b3c9-5d8e2f1a6b70',
      qos: 'BestEffort',
      containerId: '9b2e4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a3c5e7b9d2f4a6c8e0b1d3f5a7c9e2b',
      runtime: 'cri-o',
    });
    expect(of('v2-systemd-crio-conmon.txt')).toEqual({ ...container, monitor: true });
  });

  it('kind’s nested kubelet.slice, guaranteed class without a QoS slice', () => {
    expect(of('v2-systemd-kind-guaranteed.txt')).toMatchObject({ podUid: '7a1e3c5b-9d2f-4b6a-8c0e-1f3a5c7e9b2d', qos: 'Guaranteed', runtime: 'containerd' });
  });

  it('Docker under the systemd driver on cgroup v1, read from the memory line', () => {
    expect(of('v1-systemd-docker-guaranteed.txt')).toMatchObject({ podUid: '2b4d6f8a-0c1e-4a3b-9d5f-7a9c1e3b5d70', qos: 'Guaranteed', runtime: 'docker' });
  });

  it('a path seen from inside a cgroup namespace still names the pod', () => {
    expect(of('v2-cgroupns-agent-view.txt')).toMatchObject({ podUid: '0c6d2e8a-1b4f-4a7e-b3c9-5d8e2f1a6b70', qos: 'BestEffort' });
  });

  it('a host service is no pod', () => {
    expect(of('v2-systemd-host-service.txt')).toBeUndefined();
  });
});

describe('podOfCgroupPath', () => {
  it('reads an OOM kill’s task_memcg and a pod-level cgroup without a container', () => {
    expect(podOfCgroupPath('/ksleuth-node/kubepods/burstable/pod983e1b16-a61c-4513-a22c-5a5cdb658458')).toEqual({
      podUid: '983e1b16-a61c-4513-a22c-5a5cdb658458',
      qos: 'Burstable',
    });
  });

  it('does not take look-alikes for pods', () => {
    expect(podOfCgroupPath('/kubepods/burstable')).toBeUndefined();
    expect(podOfCgroupPath('/user.slice/pod-manager.service')).toBeUndefined();
    expect(podOfCgroupPath('/kubepods/podnot-a-uid/0123')).toBeUndefined();
    // A container segment that is not a 64-hex ID is left out rather than guessed.
    expect(podOfCgroupPath('/kubepods/pod983e1b16-a61c-4513-a22c-5a5cdb658458/short')).toEqual({
      podUid: '983e1b16-a61c-4513-a22c-5a5cdb658458',
      qos: 'Guaranteed',
    });
  });
});

describe('parseProcCgroup', () => {
  it('refuses text that is not /proc/<pid>/cgroup, quoting the line', () => {
    expect(() => parseProcCgroup('hello world\n')).toThrow(/not a \/proc\/<pid>\/cgroup line: "hello world"/);
    expect(parseProcCgroup('')).toEqual([]);
  });
});
