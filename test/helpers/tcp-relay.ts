import net from 'node:net';

/**
 * A TCP relay in front of a server on loopback, standing in for a flaky network: `cutAfter(n)`
 * makes the first connection to carry more than n bytes towards the server (counted from that
 * call) drop there. The bytes up to the n-th reach the server, which then sees its client go
 * (FIN); the client sees the connection closed. `target` is set once the server listens (it is
 * started with the relay as its PUBLIC_URL, so the URLs it hands out lead here).
 */
export interface TcpRelay {
  readonly url: string;
  target: number;
  /**
   * Resolves once a connection was cut. `answer`: bytes the client gets before the cut, e.g. the
   * 502 a proxy in front gives when its connection to the server drops. (Without an answer,
   * Chromium resends a request whose reused keep-alive connection closes, on a new one.)
   */
  cutAfter(bytes: number, opts?: { answer?: string }): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpRelay(): Promise<TcpRelay> {
  let cut: { bytes: number; answer: string; done: () => void } | undefined;
  /** Which `cutAfter` a connection's count belongs to. */
  let generation = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(relay.target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let counted = { generation, bytes: 0 };
    client.on('data', (chunk: Buffer) => {
      if (counted.generation !== generation) counted = { generation, bytes: 0 };
      const armed = cut;
      if (armed && counted.bytes + chunk.length > armed.bytes) {
        cut = undefined;
        upstream.end(chunk.subarray(0, armed.bytes - counted.bytes), armed.done);
        client.end(armed.answer, () => client.destroy());
        return;
      }
      counted.bytes += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
    // A client gone is a connection closed for the server too (after what was already relayed).
    client.on('error', () => upstream.end());
    client.on('close', () => {
      upstream.end();
      sockets.delete(client);
      sockets.delete(upstream);
    });
    upstream.on('error', () => client.destroy()).on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relay: TcpRelay = {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    target: 0,
    cutAfter: (bytes, opts = {}) =>
      new Promise<void>((done) => {
        generation += 1;
        cut = { bytes, answer: opts.answer ?? '', done };
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return relay;
}
