import { connect, createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of a server (PostgreSQL, here) that can be taken down and brought
 * back on the same port: what a database restart looks like to its clients, without
 * restarting the database other tests share.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const next = createServer(client => {
        const upstream = connect(target.port, target.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
          socket.on('close', () => sockets.delete(socket));
        }
        client.pipe(upstream).pipe(client);
      });
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => {
        port = (next.address() as { port: number }).port;
        server = next;
        resolve();
      });
    });
  const down = async () => {
    const closing = new Promise(resolve => server?.close(resolve));
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await closing;
  };
  await listen();
  return {
    get port() {
      return port;
    },
    /** Every connection dropped, none accepted for `ms`, then back on the same port. */
    async restart(ms: number) {
      await down();
      await new Promise(resolve => setTimeout(resolve, ms));
      await listen();
    },
    stop: down,
  };
}
