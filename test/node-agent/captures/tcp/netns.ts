import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A network namespace made for one test with `ip netns`; delete() removes it. */
export class TestNetns {
  private constructor(readonly name: string) {}

  static async create(): Promise<TestNetns> {
    const name = `ksleuth-tcp-${process.pid}-${randomBytes(3).toString('hex')}`;
    await run('ip', ['netns', 'add', name]);
    const netns = new TestNetns(name);
    await netns.ip('link', 'set', 'lo', 'up');
    return netns;
  }

  /** Runs `ip -n <this> ...`. */
  async ip(...args: string[]): Promise<void> {
    await run('ip', ['-n', this.name, ...args]);
  }

  /** Starts a Node.js script inside the namespace and waits for its first line of output. */
  async start(script: string): Promise<{ child: ChildProcess; firstLine: string }> {
    // `ip netns exec` enters the namespace and execs node: the child's pid is node's.
    const child = spawn('ip', ['netns', 'exec', this.name, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const firstLine = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.on('close', (code) => reject(new Error(`script in ${this.name} exited with ${code}: ${stderr}`)));
    });
    return { child, firstLine };
  }

  async delete(): Promise<void> {
    await run('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

/** Kills a started script and waits until it is gone. */
export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

/**
 * A server on loopback that accepts connections and never reads or closes them. `withData`
 * clients send `bytes` bytes and close; `finOnly` clients close without sending; one more
 * connection sends data and stays open. Prints {"port"} when every socket is in place.
 */
export function closeWaitScript(withData: number, finOnly: number, bytes: number, address = '127.0.0.1'): string {
  return `
    const net = require('node:net');
    const held = [];
    let accepted = 0;
    const total = ${withData} + ${finOnly} + 1;
    const server = net.createServer({ pauseOnConnect: true }, (socket) => { held.push(socket); accepted++; });
    server.listen(0, '${address}', async () => {
      const port = server.address().port;
      const open = (payload, close) => new Promise((resolve) => {
        const client = net.connect(port, '${address}', () => (close ? client.end(payload, resolve) : client.write(payload, resolve)));
        held.push(client);
      });
      for (let i = 0; i < ${withData}; i++) await open(Buffer.alloc(${bytes}, 120), true);
      for (let i = 0; i < ${finOnly}; i++) await open(Buffer.alloc(0), true);
      await open(Buffer.alloc(50, 121), false);
      while (accepted < total) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 200));
      process.stdout.write(JSON.stringify({ port }) + '\\n');
    });
    setInterval(() => {}, 1 << 30);`;
}

/** A server that reads and discards everything. Prints "ready" once listening. */
export function sinkServerScript(address: string, port: number): string {
  return `
    const net = require('node:net');
    net.createServer((socket) => socket.resume()).listen(${port}, '${address}', () => process.stdout.write('ready\\n'));`;
}

/**
 * `connections` clients that each send 1000 bytes every `everyMs` ms until killed, and one more
 * connection opened every `connectEveryMs` ms: once the link is dropped, established connections
 * back off exponentially, while each new connection's SYN is retransmitted a second later, so
 * retransmits keep coming however late a tracer attaches.
 */
export function steadySenderScript(address: string, port: number, connections: number, everyMs: number, connectEveryMs = 250): string {
  return `
    const net = require('node:net');
    const connect = () => net.connect(${port}, '${address}').on('error', () => {});
    let connected = 0;
    const clients = Array.from({ length: ${connections} }, () => connect().on('connect', () => {
      if (++connected === ${connections}) process.stdout.write('ready\\n');
    }));
    setInterval(() => { for (const client of clients) client.write(Buffer.alloc(1000, 122)); }, ${everyMs});
    setInterval(connect, ${connectEveryMs});`;
}

/**
 * Two namespaces joined by a veth pair: a sink server in one, `connections` steady senders in
 * the other. dropLink() removes the server's address, so every segment the clients send from
 * then on, SYNs included, is delivered to a namespace that drops it, and TCP retransmits at each
 * timeout.
 */
export class LossyLink {
  private constructor(
    readonly client: TestNetns,
    readonly server: TestNetns,
    readonly serverAddress: string,
    readonly serverPort: number,
    private readonly children: ChildProcess[],
  ) {}

  /** The pid of the sending process, whose /proc/<pid>/net is the client namespace. */
  get clientPid(): number {
    return this.children[1]!.pid!;
  }

  static async create(connections: number, everyMs: number): Promise<LossyLink> {
    const client = await TestNetns.create();
    const server = await TestNetns.create();
    const children: ChildProcess[] = [];
    const [clientVeth, serverVeth] = [`${client.name.slice(-10)}a`, `${server.name.slice(-10)}b`];
    const serverAddress = '10.201.0.2';
    try {
      await run('ip', ['link', 'add', clientVeth, 'netns', client.name, 'type', 'veth', 'peer', 'name', serverVeth, 'netns', server.name]);
      await client.ip('addr', 'add', '10.201.0.1/24', 'dev', clientVeth);
      await server.ip('addr', 'add', `${serverAddress}/24`, 'dev', serverVeth);
      await client.ip('link', 'set', clientVeth, 'up');
      await server.ip('link', 'set', serverVeth, 'up');
      children.push((await server.start(sinkServerScript(serverAddress, 9100))).child);
      children.push((await client.start(steadySenderScript(serverAddress, 9100, connections, everyMs))).child);
      return new LossyLink(client, server, serverAddress, 9100, children);
    } catch (error) {
      for (const child of children) await stop(child);
      await client.delete();
      await server.delete();
      throw error;
    }
  }

  async dropLink(): Promise<void> {
    const veth = `${this.server.name.slice(-10)}b`;
    await this.server.ip('addr', 'del', `${this.serverAddress}/24`, 'dev', veth);
  }

  async delete(): Promise<void> {
    for (const child of this.children) await stop(child);
    // Deleting a namespace deletes its end of the veth pair, and with it the other end.
    await this.client.delete();
    await this.server.delete();
  }
}
