import { stringify } from 'yaml';
import { nodeCgroup } from './node-host.js';

/*
 * The real node's configuration files: containerd's, the CNI network's, the kubelet's and
 * kube-proxy's (real-node.ts writes them into the node's state directory).
 */

/** The host's end of the node's network (the API server listens here too) and the node's address. */
export const nodeHostAddress = '10.149.0.1';
export const nodeAddress = '10.149.0.2';
export const podSubnet = '10.244.0.0/24';
const clusterCidr = '10.244.0.0/16';
/** Debian's containernetworking-plugins: bridge, host-local, portmap, loopback. */
const cniBinDir = '/usr/lib/cni';

export function containerdConfig(options: { sandboxImage: string; cniConfDir: string }): string {
  return `version = 3
root = '/var/lib/containerd'
state = '/run/containerd'
imports = []
# Plugins that would make or read host directories (/opt/containerd, /var/run/nri) and are not needed.
disabled_plugins = ['io.containerd.nri.v1.nri', 'io.containerd.internal.v1.opt', 'io.containerd.internal.v1.tracing']

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '${options.sandboxImage}'

[plugins.'io.containerd.cri.v1.runtime']
  # Lowering oom_score_adj needs CAP_SYS_RESOURCE, which a machine's bounding set may lack (this
  # one's does): never ask for a score below containerd's own.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = 'io.containerd.runc.v2'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = 'runc'
      SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['${cniBinDir}']
    conf_dir = '${options.cniConfDir}'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
`;
}

/** One bridge (cni0, in the node's network namespace) with the pods behind NAT. */
export function cniConfig(): string {
  const bridge = {
    type: 'bridge',
    bridge: 'cni0',
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: { type: 'host-local', ranges: [[{ subnet: podSubnet }]], routes: [{ dst: '0.0.0.0/0' }] },
  };
  return JSON.stringify({ cniVersion: '1.0.0', name: 'ksleuth-node', plugins: [bridge, { type: 'portmap', capabilities: { portMappings: true } }] }, null, 2);
}

export function kubeletConfig(options: { clientCaFile: string }): string {
  return stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // cgroup v1 and no systemd here; kubelet 1.35 and later refuse v1 unless told.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: `/${nodeCgroup}`,
    containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: options.clientCaFile } },
    authorization: { mode: 'Webhook' },
    address: nodeAddress,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    clusterDomain: 'cluster.local',
    failSwapOn: false,
    serializeImagePulls: false,
    rotateCertificates: false,
    // The host's disk is shared with everything else on it: evict only when it is really full.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%' },
    imageGCHighThresholdPercent: 98,
    imageGCLowThresholdPercent: 95,
    shutdownGracePeriod: '0s',
    // Pods may set this one themselves (securityContext.sysctls), as an operator allows it on a
    // node pool: a pod that does keeps its value under a net.* KernelMitigation.
    allowedUnsafeSysctls: ['net.ipv4.tcp_fastopen'],
  });
}

export function kubeProxyConfig(options: { nodeName: string; kubeconfig: string }): string {
  return stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clusterCIDR: clusterCidr,
    hostnameOverride: options.nodeName,
    bindAddress: nodeAddress,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    clientConnection: { kubeconfig: options.kubeconfig },
    // Leave the host-wide conntrack table size and timeouts as they are.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false },
  });
}
