import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

// A failed test must not leave namespaces or relays behind.
const cleanups = new Set<() => void>();
process.on('exit', () => {
  for (const cleanup of cleanups) cleanup();
});

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * Forwards every connection it accepts on `LISTEN_HOST` to `TARGET_HOST:TARGET_PORT`, and
 * prints `relay <port>` once it listens. Runs inside the namespace.
 */
const RELAY = `
const net = require('node:net');
const [listenHost, targetHost, targetPort] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(targetPort), targetHost);
  const drop = () => { client.destroy(); upstream.destroy(); };
  client.on('error', drop).on('close', drop);
  upstream.on('error', drop).on('close', drop);
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(0, listenHost, () => console.log('relay ' + server.address().port));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/**
 * Another machine for tests that must come from a non-loopback address: a network namespace
 * joined to this one by a veth pair, on a random /30 of 198.18.0.0/15 (the range set aside for
 * network tests). Its relays carry connections made on this machine into the namespace and
 * out again to a server here, so the server sees them come from `address`, as it would a
 * client on the network. Needs root and iproute2 (`ip netns`).
 */
export class RemoteHost {
  private readonly relays = new Set<ChildProcess>();

  private constructor(
    private readonly ns: string,
    /** This machine's address on the link: servers bound to it or to 0.0.0.0 are reachable. */
    readonly hostAddress: string,
    /** The namespace's address: what the server sees as the client's address. */
    readonly address: string,
    private readonly cleanup: () => void,
  ) {}

  static create(): RemoteHost {
    const id = randomBytes(4).toString('hex');
    const ns = `wh-${id}`;
    const [outer, inner] = [`wh${id}a`, `wh${id}b`];
    const net = `198.18.${randomInt(256)}.${randomInt(64) * 4}`.split('.').map(Number);
    const at = (n: number) => `${net[0]}.${net[1]}.${net[2]}.${(net[3] ?? 0) + n}`;
    const cleanup = () => {
      try {
        ip('netns', 'del', ns);
      } catch {
        // Already gone.
      }
    };
    cleanups.add(cleanup);
    try {
      ip('netns', 'add', ns);
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', ns);
      ip('addr', 'add', `${at(1)}/30`, 'dev', outer);
      ip('link', 'set', outer, 'up');
      ip('-n', ns, 'addr', 'add', `${at(2)}/30`, 'dev', inner);
      ip('-n', ns, 'link', 'set', inner, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    } catch (err) {
      cleanup();
      cleanups.delete(cleanup);
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`cannot make a network namespace (needs root and iproute2): ${stderr ?? err}`);
    }
    return new RemoteHost(ns, at(1), at(2), cleanup);
  }

  /**
   * A relay in the namespace to `port` on this machine: connect to the returned `host:port`
   * and the server sees the connection come from `address`.
   */
  relayTo(port: number): Promise<{ host: string; port: number; url: string; wsUrl: string }> {
    const child = spawn(
      'ip',
      ['netns', 'exec', this.ns, process.execPath, '-e', RELAY, this.address, this.hostAddress, String(port)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.relays.add(child);
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        const m = /relay (\d+)/.exec(out);
        if (!m) return;
        const relayPort = Number(m[1]);
        const base = `${this.address}:${relayPort}`;
        resolve({ host: this.address, port: relayPort, url: `http://${base}`, wsUrl: `ws://${base}` });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`the relay exited with ${code}: ${out}`)));
    });
  }

  close(): void {
    for (const relay of this.relays) {
      relay.stdin?.end();
      relay.kill('SIGKILL');
    }
    this.relays.clear();
    this.cleanup();
    cleanups.delete(this.cleanup);
  }
}
