import { isIP } from 'node:net';
import type { RedactKind } from '../../../api/v1alpha1/captures.js';

/*
 * Redaction of a bug-report bundle before it leaves the node. Each distinct value gets a stable
 * placeholder for the whole bundle (ipv4-1, host-2, ...), so the same address or name still
 * shows as the same thing across files; loopback and unspecified addresses stay, they identify
 * nothing. The placeholders are plain words, never documentation addresses, which real
 * networks use too.
 */

const ipv4 = /(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.])/g;
/** Candidates only: net.isIP decides what is an IPv6 address. */
const ipv6 = /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?::\d+\.\d+\.\d+\.\d+)?(?![\w:])/g;
const mac = /(?<![\w:])[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}(?![\w:])/g;
const keptIpv4 = /^(127\.|0\.0\.0\.0$|255\.255\.255\.255$)/;
const keptMacs = new Set(['00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']);
/** `ss -p`'s process column: users:(("name",pid=1,fd=3),...). */
const ssProcess = /\(\("[^"]*"|\),\("[^"]*"/g;

export interface RedactionTargets {
  /** The node's names: host name, FQDN, Kubernetes node name. */
  hostnames: string[];
}

export class Redactor {
  private readonly placeholders = new Map<string, string>();
  private readonly counters = new Map<string, number>();
  private readonly hostnamePattern?: RegExp;

  constructor(
    readonly kinds: ReadonlySet<RedactKind>,
    targets: RedactionTargets,
  ) {
    const names = [...new Set(targets.hostnames.flatMap((n) => [n, n.split('.')[0]!]).filter((n) => n.length > 0 && n !== 'localhost'))].sort(
      (a, b) => b.length - a.length,
    );
    if (kinds.has('hostnames') && names.length > 0) {
      // A bare name next to a dot, slash, dash or underscore is part of something else ("vm.swappiness" on a host named vm).
      const alternatives = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
      this.hostnamePattern = new RegExp(`(?<![\\w./-])(?:${alternatives})(?![\\w/-]|\\.\\w)`, 'gi');
    }
  }

  /** The placeholder of a value, the same for the same value throughout the bundle. */
  placeholder(kind: string, value: string): string {
    const key = `${kind}\0${value.toLowerCase()}`;
    let placeholder = this.placeholders.get(key);
    if (placeholder === undefined) {
      const n = (this.counters.get(kind) ?? 0) + 1;
      this.counters.set(kind, n);
      placeholder = `${kind}-${n}`;
      this.placeholders.set(key, placeholder);
    }
    return placeholder;
  }

  /** One file of the bundle, redacted. */
  file(name: string, data: Buffer): Buffer {
    if (this.kinds.size === 0 || data.length === 0) return data;
    let text = data.toString('utf8');
    if (this.kinds.has('commandLines')) text = this.commandLines(name, text);
    if (this.kinds.has('hostnames') && this.hostnamePattern) text = text.replace(this.hostnamePattern, (m) => this.placeholder('host', m));
    if (this.kinds.has('addresses')) text = this.addresses(text);
    return Buffer.from(text, 'utf8');
  }

  /** A single value (the manifest's host name). */
  hostname(name: string): string {
    return this.kinds.has('hostnames') ? this.placeholder('host', name) : name;
  }

  private addresses(text: string): string {
    return text
      .replace(mac, (m) => (keptMacs.has(m.toLowerCase()) ? m : this.placeholder('mac', m)))
      .replace(ipv4, (m) => (keptIpv4.test(m) ? m : this.placeholder('ipv4', m)))
      .replace(ipv6, (m) => (isIP(m) !== 6 || m === '::' || m === '::1' ? m : this.placeholder('ipv6', m)));
  }

  /**
   * The kernel command line keeps its parameter names (which options are set is what a bug
   * report needs) without their values; init's arguments after "--" and the process names
   * ss prints go entirely.
   */
  private commandLines(name: string, text: string): string {
    if (name === 'cmdline.txt') return redactKernelCommandLine(text);
    if (name === 'kernel-log.txt')
      return text.replace(/(Command line: |Kernel command line: )(.*)/g, (_m, prefix: string, line: string) => prefix + redactKernelCommandLine(line));
    if (name === 'ss.txt' || name.endsWith('/ss.txt')) return text.replace(ssProcess, (m) => m.replace(/"[^"]*"/, '"<redacted>"'));
    return text;
  }
}

export function redactKernelCommandLine(line: string): string {
  const trailingNewline = line.endsWith('\n') ? '\n' : '';
  const [kernel, ...init] = line.trimEnd().split(/ -- /);
  const parameters = (kernel ?? '').split(/\s+/).map((p) => {
    const eq = p.indexOf('=');
    return eq < 0 ? p : `${p.slice(0, eq)}=<redacted>`;
  });
  return `${parameters.join(' ')}${init.length > 0 ? ' -- <redacted>' : ''}${trailingNewline}`;
}
