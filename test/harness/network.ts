import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

const ownerDir = '/run/ksleuth-netns';
const maxNetworks = 50;

async function ip(...args: string[]): Promise<void> {
  await run('ip', args).catch((error: unknown) => {
    throw new Error(`ip ${args.join(' ')} failed: ${((error as { stderr?: string }).stderr ?? String(error)).trim()}`);
  });
}

export interface SimulatedHost {
  /** The network namespace the host's processes run in (ip netns exec <netns>). */
  netns: string;
  /** The host's address on the network. */
  address: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A private network of simulated hosts on this machine: a Linux bridge whose address the control
 * plane listens on, and one network namespace per host, attached by a veth pair. Each host has its
 * own network stack and its own net.* sysctls. Needs root. Networks left by a crashed run are
 * removed by the next one.
 */
export class SimulatedNetwork {
  private readonly hosts: SimulatedHost[] = [];

  private constructor(readonly index: number) {}

  get bridge(): string {
    return `ksbr${this.index}`;
  }

  /** The control plane's address on this network. */
  get hostAddress(): string {
    return `10.${150 + this.index}.0.1`;
  }

  static async create(): Promise<SimulatedNetwork> {
    await SimulatedNetwork.removeStale();
    mkdirSync(ownerDir, { recursive: true });
    for (let index = 0; index < maxNetworks; index++) {
      const network = new SimulatedNetwork(index);
      try {
        // Creating the bridge is the atomic claim on this index.
        await ip('link', 'add', network.bridge, 'type', 'bridge');
      } catch {
        continue;
      }
      writeFileSync(join(ownerDir, String(index)), String(process.pid));
      await ip('addr', 'add', `${network.hostAddress}/24`, 'dev', network.bridge);
      await ip('link', 'set', network.bridge, 'up');
      return network;
    }
    throw new Error(`no free simulated network: ${maxNetworks} are in use (ip link show type bridge)`);
  }

  /** Adds a host in its own network namespace; its address is returned. */
  async addHost(): Promise<SimulatedHost> {
    const n = this.hosts.length + 2;
    if (n > 254) throw new Error('a simulated network holds at most 253 hosts');
    const netns = `ks${this.index}-h${n}`;
    const veth = `ks${this.index}v${n}`;
    const address = `10.${150 + this.index}.0.${n}`;
    await ip('netns', 'add', netns);
    const host = { netns, address };
    this.hosts.push(host);
    await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`);
    await ip('link', 'set', `${veth}p`, 'netns', netns);
    await ip('link', 'set', veth, 'master', this.bridge);
    await ip('link', 'set', veth, 'up');
    await ip('netns', 'exec', netns, 'ip', 'addr', 'add', `${address}/24`, 'dev', `${veth}p`);
    await ip('netns', 'exec', netns, 'ip', 'link', 'set', `${veth}p`, 'up');
    await ip('netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up');
    return host;
  }

  /** Removes the namespaces, their links and the bridge. */
  async destroy(): Promise<void> {
    for (const host of this.hosts.splice(0)) await ip('netns', 'del', host.netns).catch(() => undefined);
    await ip('link', 'del', this.bridge).catch(() => undefined);
    rmSync(join(ownerDir, String(this.index)), { force: true });
  }

  /** Removes networks whose owner process is gone. */
  static async removeStale(): Promise<void> {
    let claims: string[];
    try {
      claims = readdirSync(ownerDir);
    } catch {
      return;
    }
    for (const claim of claims) {
      const owner = Number(readFileSync(join(ownerDir, claim), 'utf8'));
      if (alive(owner)) continue;
      const stale = new SimulatedNetwork(Number(claim));
      const { stdout } = await run('ip', ['netns', 'list']).catch(() => ({ stdout: '' }));
      for (const line of stdout.split('\n')) {
        const name = line.split(' ')[0];
        if (name?.startsWith(`ks${claim}-h`)) await ip('netns', 'del', name).catch(() => undefined);
      }
      await stale.destroy();
    }
  }
}
