import { connect, createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of a server (PostgreSQL, here) that can be taken down and brought
 * back on the same port: what a database restart looks like to its clients, without
 * restarting the database other tests share. It can also hold the traffic, as a
 * stalled client's looks.
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  /** While held: what the connections sent, in order, to deliver on release. */
  let held: Array<() => void> | undefined;
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
        // Forwarded by hand rather than piped, so `hold` can keep the bytes back.
        const forward = (from: Socket, to: Socket) => {
          from.on('data', chunk => {
            if (held) held.push(() => to.write(chunk));
            else to.write(chunk);
          });
          from.on('end', () => {
            if (held) held.push(() => to.end());
            else to.end();
          });
        };
        forward(client, upstream);
        forward(upstream, client);
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
    /**
     * Holds every byte either way on every connection (the client stalls, as a long
     * GC pause or a partition looks to the database) until the returned release.
     */
    hold() {
      held ??= [];
      return {
        /** How many chunks were held back so far. */
        get count() {
          return held?.length ?? 0;
        },
        release() {
          const queued = held ?? [];
          held = undefined;
          for (const send of queued) send();
        },
      };
    },
    stop: down,
  };
}
