import type { KernelFamily, KernelRelease, OsHint, UpstreamVersion } from './release.js';

/**
 * How each family writes its kernel releases, tried in order; the first that matches wins.
 * test/fixtures/kernel-release/releases.yaml holds real examples of each, with their sources.
 */

const num = (s: string | undefined): number => (s === undefined || s === '' ? 0 : Number(s));
const optionalNum = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s));
/** x.y.z from a match's first three groups, missing parts 0. */
const baseOf = (m: RegExpExecArray): [number, number, number] => [num(m[1]), num(m[2]), num(m[3])];
const mainlineLine = { family: 'mainline', line: 'mainline', label: 'mainline' } as const;
const debianLine = { family: 'debian', line: 'debian', label: 'Debian' } as const;
const numbers = (dotted: string): number[] =>
  dotted
    .split('.')
    .filter((p) => p !== '')
    .map(Number);

interface Parts {
  family: KernelFamily;
  line: string;
  label: string;
  base: [number, number, number];
  /** false where the release keeps printing the base the distribution forked from. */
  patchKnown: boolean;
  rc?: number | undefined;
  build?: number[];
  flavour?: string;
  arch?: string;
}

function release(text: string, p: Parts): KernelRelease {
  const upstream: UpstreamVersion = {
    major: p.base[0],
    minor: p.base[1],
    ...(p.patchKnown ? { patch: p.base[2] } : {}),
    ...(p.rc !== undefined ? { rc: p.rc } : {}),
  };
  return {
    text,
    family: p.family,
    line: p.line,
    base: p.base,
    upstream,
    build: p.build ?? [],
    ...(p.flavour ? { flavour: p.flavour } : {}),
    ...(p.arch ? { arch: p.arch } : {}),
    label: p.label,
  };
}

const arches = 'x86_64|aarch64|ppc64le|s390x|i686|armv7hl|noarch';

// Debian's kernel flavours (linux source package, debian/config): the architecture, with cloud- or rt- in front.
const debianFlavour =
  /^(?:(?:cloud|rt)-)?(?:amd64|arm64|armmp|armmp-lpae|686|686-pae|powerpc64le|powerpc64|s390x|marvell|rpi|loong64|riscv64|4kc-malta|5kc-malta|octeon|mips32r2el|mips64r2el|mips32r6el|mips64r6el|loongson-3|parisc|parisc64|alpha-generic|m68k|sh7751r|sh7785lcr|sparc64|sparc64-smp)$/;

// Ubuntu's flavours: the main kernel (generic, lowlatency and their HWE builds share its ABI
// numbers) and derivative kernels with numbering of their own (ABI 1000 and up).
const ubuntuMain = /^(?:generic|lowlatency)(?:-64k|-lpae|-hwe-\d+\.\d+)?$/;
const ubuntuDerivative =
  /^(?:aws|azure|gcp|gke|gkeop|oracle|kvm|ibm|nvidia|raspi|realtime|intel-iotg|intel|oem|xilinx-zynqmp|bluefield|fips|lowlatency-hwe|nvidia-lowlatency|raspi-nolpae|aws-fips|azure-fips|gcp-fips)(?:-64k|-fde|-cvm|-nolpae)?$/;

type Recognizer = (text: string, os: OsHint) => KernelRelease | undefined;

/** Ubuntu mainline builds (kernel.ubuntu.com/mainline): 6.11.0-061100rc7-generic is upstream 6.11-rc7. */
const ubuntuMainline: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)\.(\d+)-(\d{6})(?:rc(\d+))?-(generic|lowlatency)(?:-64k)?$/.exec(text);
  // The six digits spell the version (061100 for 6.11.0); anything else is an ABI number.
  const spelled = (n: string | undefined): string => String(num(n)).padStart(2, '0');
  if (!m || m[4] !== `${spelled(m[1])}${spelled(m[2])}${spelled(m[3])}`) return undefined;
  return release(text, {
    ...mainlineLine,
    base: baseOf(m),
    patchKnown: true,
    rc: optionalNum(m[5]),
    flavour: m[6]!,
  });
};

/**
 * Debian until bookworm: x.y.z-ABI-flavour, where x.y.z is the base of the ABI and the upstream
 * patch level is only in /proc/version ("Debian 6.1.76-1"). Backports: 6.1.0-0.deb11.17-amd64 is
 * bookworm's ABI 17 rebuilt for bullseye; 5.10.0-0.bpo.15-amd64 likewise. Before 3.16: 3.12-1-amd64.
 */
const debianAbi: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?-(?:0\.(?:bpo|deb\d+)\.)?(\d+)-([a-z0-9-]+)$/.exec(text);
  if (!m || !debianFlavour.test(m[5]!)) return undefined;
  return release(text, { ...debianLine, base: baseOf(m), patchKnown: false, build: [num(m[4])], flavour: m[5]! });
};

/** Debian from trixie (and bookworm's 6.12 and backports): the upstream version itself, 6.12.12-amd64, 6.12.107+deb12-amd64, 6.12.9+bpo-amd64. */
const debianUpstream: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:\+(deb\d+|bpo))?-([a-z0-9-]+)$/.exec(text);
  if (!m || !debianFlavour.test(m[5]!)) return undefined;
  return release(text, { ...debianLine, base: baseOf(m), patchKnown: true, flavour: m[5]! });
};

/**
 * Ubuntu: x.y.z-ABI-flavour (5.15.0-91-generic, 6.8.0-1015-aws). x.y.z is the base of the series;
 * the upstream patch level is in /proc/version_signature ("Ubuntu 5.15.0-91.101-generic 5.15.131").
 * Also the package form with the upload number, 5.15.0-91.101-generic.
 */
const ubuntu: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)\.(\d+)-(\d+)(?:\.(\d+))?-([a-z0-9-]+)$/.exec(text);
  if (!m) return undefined;
  const flavour = m[6]!;
  const main = ubuntuMain.test(flavour);
  if (!main && !ubuntuDerivative.test(flavour)) return undefined;
  const series = flavour.replace(/-(?:64k|lpae|fde|cvm|nolpae|hwe-\d+\.\d+)$/, '');
  return release(text, {
    family: 'ubuntu',
    line: main ? 'ubuntu' : `ubuntu-${series}`,
    label: main ? 'Ubuntu' : `Ubuntu (${series})`,
    base: baseOf(m),
    patchKnown: false,
    build: [num(m[4]), ...(m[5] !== undefined ? [num(m[5])] : [])],
    flavour,
  });
};

/**
 * RHEL and its rebuilds (CentOS, CentOS Stream, Rocky, AlmaLinux, Oracle's Red Hat compatible
 * kernel) and Oracle's UEK: x.y.z-RELEASE.elN[_M][uek].arch[+variant]. RELEASE is dotted numbers
 * (362.8.1; Oracle adds .0.1), real-time kernels put .rtA.B before the dist tag. RHEL keeps x.y.z
 * for the whole major release; UEK keeps it for a UEK release.
 */
const enterpriseLinux: Recognizer = (text) => {
  const m = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)-([\\d.]+?)(?:\\.rt([\\d.]+?))?\\.el(\\d+)(?:_(\\d+))?(uek)?(?:\\.(${arches}))?(?:\\+([a-z0-9]+))?$`).exec(
    text,
  );
  if (!m) return undefined;
  const major = m[6]!;
  const uek = m[8] !== undefined;
  const rt = m[5] !== undefined;
  const variant = m[10] ?? (rt ? 'rt' : undefined);
  return release(text, {
    family: uek ? 'oracle-uek' : 'rhel',
    // UEK builds for el8 and el9 share their numbers; RHEL's real-time kernel is numbered apart.
    line: uek ? 'uek' : `el${major}${rt ? '-rt' : ''}`,
    label: uek ? 'Oracle UEK' : `RHEL ${major} and rebuilds${rt ? ' (real-time)' : ''}`,
    base: baseOf(m),
    patchKnown: false,
    build: [...numbers(m[4]!), ...(rt ? numbers(m[5]!) : [])],
    ...(variant ? { flavour: variant } : {}),
    ...(m[9] ? { arch: m[9] } : {}),
  });
};

/** Amazon Linux: 5.10.210-201.852.amzn2.x86_64, 6.1.79-99.164.amzn2023.x86_64. The upstream patch level is real (Amazon follows the stable releases). */
const amazon: Recognizer = (text) => {
  const m = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)-([\\d.]+?)\\.amzn(1|2|2022|2023)(?:\\.(${arches}))?$`).exec(text);
  if (!m) return undefined;
  return release(text, {
    family: 'amazon',
    line: `amzn${m[5]}`,
    label: `Amazon Linux ${m[5] === '1' ? 'AMI' : m[5]}`,
    base: baseOf(m),
    patchKnown: true,
    build: numbers(m[4]!),
    ...(m[6] ? { arch: m[6] } : {}),
  });
};

/** Fedora and Fedora CoreOS: 6.7.5-200.fc39.x86_64. */
const fedora: Recognizer = (text) => {
  const m = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)-([\\d.]+?)\\.fc(\\d+)(?:\\.(${arches}))?(?:\\+([a-z0-9]+))?$`).exec(text);
  if (!m) return undefined;
  return release(text, {
    family: 'fedora',
    line: `fc${m[5]}`,
    label: `Fedora ${m[5]}`,
    base: baseOf(m),
    patchKnown: true,
    build: numbers(m[4]!),
    ...(m[7] ? { flavour: m[7] } : {}),
    ...(m[6] ? { arch: m[6] } : {}),
  });
};

/** Azure Linux (and CBL-Mariner), AKS's own node OS: 5.15.138.1-4.cm2, 6.6.47.1-1.azl3. */
const azureLinux: Recognizer = (text) => {
  const m = new RegExp(`^(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+)-([\\d.]+?)\\.(cm\\d+|azl\\d+)(?:\\.(${arches}))?$`).exec(text);
  if (!m) return undefined;
  return release(text, {
    family: 'azure-linux',
    line: m[6]!,
    label: m[6]!.startsWith('cm') ? 'CBL-Mariner' : 'Azure Linux',
    base: baseOf(m),
    patchKnown: true,
    build: [num(m[4]), ...numbers(m[5]!)],
    ...(m[7] ? { arch: m[7] } : {}),
  });
};

/**
 * SUSE: x.y.z-RELEASE-flavour (5.14.21-150500.55.44-default). SLE keeps x.y.z for a service pack
 * series; its first release number names it (150500 is SLE 15 SP5). Tumbleweed and Kernel:HEAD
 * also print a git hash (6.14.0-rc3-1.gb6b4102-default).
 */
const suse: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-rc(\d+))?-([\d.]+?)(?:\.g[0-9a-f]+)?-(default|azure|rt|kvmsmall|64kb|preempt|pae|lpae|debug|zfcpdump|vanilla)$/.exec(text);
  if (!m) return undefined;
  const flavour = m[6]!;
  // The Azure and real-time kernels are built from branches of their own.
  const separate = flavour === 'azure' || flavour === 'rt';
  return release(text, {
    family: 'suse',
    line: separate ? `suse-${flavour}` : 'suse',
    label: separate ? `SUSE (${flavour})` : 'SUSE',
    base: baseOf(m),
    patchKnown: false,
    rc: optionalNum(m[4]),
    build: numbers(m[5]!),
    flavour,
  });
};

/** Flatcar (6.6.21-flatcar) and Talos (6.6.13-talos): the upstream version with the distribution's name. */
const namedUpstream: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)\.(\d+)-(flatcar|talos)$/.exec(text);
  if (!m) return undefined;
  const family = m[4] as 'flatcar' | 'talos';
  return release(text, {
    family,
    line: family,
    label: family === 'flatcar' ? 'Flatcar' : 'Talos',
    base: baseOf(m),
    patchKnown: true,
  });
};

const cosImage = /Container-Optimized OS/i;
const bottlerocketImage = /Bottlerocket/i;

/**
 * Container-Optimized OS prints the upstream version and a "+" (6.1.75+); its own build number is
 * BUILD_ID in /etc/os-release (17800.66.78), used when known. A kernel built from a git tree past a
 * release tag also ends in "+": without an OS image that says otherwise, x.y.z+ with z > 0 is taken
 * for COS, the common case on Kubernetes nodes.
 */
const cos: Recognizer = (text, os) => {
  const m = /^(\d+)\.(\d+)\.(\d+)\+$/.exec(text);
  if (!m) return undefined;
  const saysCos = os.osImage !== undefined && cosImage.test(os.osImage);
  if (!saysCos && (os.osImage !== undefined || num(m[3]) === 0)) return undefined;
  const buildId = saysCos && os.buildId && /^\d+(\.\d+)*$/.test(os.buildId) ? numbers(os.buildId) : [];
  return release(text, {
    family: 'cos',
    line: 'cos',
    label: 'Container-Optimized OS',
    base: baseOf(m),
    patchKnown: true,
    build: buildId,
  });
};

/** Bottlerocket prints the bare upstream version (6.1.72); only its OS image tells it from a mainline build. */
const bottlerocket: Recognizer = (text, os) => {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m || !os.osImage || !bottlerocketImage.test(os.osImage)) return undefined;
  return release(text, {
    family: 'bottlerocket',
    line: 'bottlerocket',
    label: 'Bottlerocket',
    base: baseOf(m),
    patchKnown: true,
  });
};

/**
 * Mainline and stable builds, as scripts/setlocalversion names them: 6.8.0, 6.8.0-rc3, then
 * -NNNNN-gHASH (commits past the tag), -dirty (uncommitted changes) and "+" (past a tag, without
 * CONFIG_LOCALVERSION_AUTO). Builds past a tag order like the tag: how far past is not comparable
 * across branches.
 */
const mainline: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-rc(\d+))?(?:-\d+-g[0-9a-f]{7,40})?(?:-dirty)?\+?$/.exec(text);
  if (!m) return undefined;
  return release(text, {
    ...mainlineLine,
    base: baseOf(m),
    patchKnown: true,
    rc: optionalNum(m[4]),
  });
};

/**
 * Anything else that starts with a version: a custom or less common build (6.18.44-fc-v782,
 * 5.16.18-1137.native, 6.2.1-arch1-1). Its suffix with the numbers taken out names its line and
 * the numbers order builds within it; the upstream version is taken as printed.
 */
const other: Recognizer = (text) => {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(.*)$/.exec(text);
  if (!m) return undefined;
  const suffix = m[4]!;
  return release(text, {
    family: 'other',
    line: `other:${suffix.replace(/\d+/g, 'N')}`,
    label: `other (${suffix.replace(/\d+/g, 'N') || 'no suffix'})`,
    base: baseOf(m),
    patchKnown: true,
    build: (suffix.match(/\d+/g) ?? []).map(Number),
  });
};

const recognizers: Recognizer[] = [
  ubuntuMainline,
  debianAbi,
  debianUpstream,
  ubuntu,
  enterpriseLinux,
  amazon,
  fedora,
  azureLinux,
  suse,
  namedUpstream,
  cos,
  bottlerocket,
  mainline,
  other,
];

export function recognizeRelease(text: string, os: OsHint): KernelRelease | undefined {
  for (const recognize of recognizers) {
    const found = recognize(text, os);
    if (found) return found;
  }
  return undefined;
}
