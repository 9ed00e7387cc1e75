/**
 * A TCP proxy in front of PostgreSQL that can stall: while stalled, bytes in both directions are held (the
 * sockets stay open, nothing arrives), as on a network that drops packets without resetting connections. On
 * resume the held bytes go on, in order. New connections made during a stall stall too.
 */
import net from 'node:net';

export interface StallingProxy {
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  urlFor(databaseUrl: string): string;
  stall(): void;
  resume(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  held: Array<[net.Socket, Buffer]>;
}

export async function startStallingProxy(target: { host: string; port: number }): Promise<StallingProxy> {
  let stalled = false;
  const pairs = new Set<Pair>();
  const server = net.createServer((client) => {
    const pair: Pair = { client, upstream: net.connect(target.port, target.host), held: [] };
    pairs.add(pair);
    const forward = (from: net.Socket, to: net.Socket) => from.on('data', (d: Buffer) => (stalled ? pair.held.push([to, d]) : to.write(d)));
    forward(client, pair.upstream);
    forward(pair.upstream, client);
    const end = () => {
      client.destroy();
      pair.upstream.destroy();
      pairs.delete(pair);
    };
    for (const s of [client, pair.upstream]) s.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    urlFor(databaseUrl) {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      return url.toString();
    },
    stall: () => void (stalled = true),
    resume() {
      stalled = false;
      for (const p of pairs) for (const [to, d] of p.held.splice(0)) to.write(d);
    },
    close: () => new Promise<void>((resolve) => {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      server.close(() => resolve());
    }),
  };
}

/** The host and port of a postgres:// URL. */
export function hostAndPort(databaseUrl: string): { host: string; port: number } {
  const url = new URL(databaseUrl);
  return { host: url.hostname, port: Number(url.port || 5432) };
}
