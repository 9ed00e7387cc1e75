/**
 * A plain TCP forwarder: lets a Parley on another machine reach the benchmark's fake vendors, which listen on
 * 127.0.0.1 and a random port, at a fixed HOST:PORT.
 */
import { connect, createServer, type Server } from 'node:net';

export async function forwardPort(listenHost: string, listenPort: number, toPort: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(toPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, () => resolve());
  });
  return server;
}
