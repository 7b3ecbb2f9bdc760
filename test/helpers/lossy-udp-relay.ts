import dgram from 'node:dgram';
import { CONTROL, parsePacket } from '../../pipelines/srt-handshake.ts';

/**
 * A lossy network for SRT tests (tc netem is not available here): a UDP relay on loopback that
 * forwards each client to `target` from a socket of its own, dropping a fraction of the datagrams in
 * both directions with a seeded PRNG, so a run is repeatable as far as packet order allows. It
 * counts what SRT does about the loss.
 */
export interface RelayCounters {
  /** Datagrams seen (both directions, dropped included). */
  packets: number;
  dropped: number;
  /** Control type 3: a receiver reporting lost packets. */
  naks: number;
  /** Data packets with the R flag: the sender's retransmissions. */
  retransmits: number;
  /** Control type 7: a sender giving up on packets (they arrive too late to play). */
  dropReqs: number;
}

export interface LossyUdpRelay {
  readonly port: number;
  /** The counters so far (a copy). */
  stats(): RelayCounters;
  close(): Promise<void>;
}

/** mulberry32: small, fast, good enough to pick which datagrams to lose. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startLossyRelay(opts: {
  target: { host: string; port: number };
  /** 0..1 of the datagrams lost, each direction. */
  lossRatio: number;
  seed?: number;
}): Promise<LossyUdpRelay> {
  const random = prng(opts.seed ?? 1);
  const counters: RelayCounters = { packets: 0, dropped: 0, naks: 0, retransmits: 0, dropReqs: 0 };
  const upstreams = new Map<string, dgram.Socket>();

  /** Counts a datagram, and says whether it gets through. */
  const passes = (msg: Buffer): boolean => {
    counters.packets++;
    const p = parsePacket(msg);
    if (p?.kind === 'control' && p.type === CONTROL.nak) counters.naks++;
    if (p?.kind === 'control' && p.type === CONTROL.dropreq) counters.dropReqs++;
    if (p?.kind === 'data' && p.retransmitted) counters.retransmits++;
    if (random() < opts.lossRatio) {
      counters.dropped++;
      return false;
    }
    return true;
  };

  const front = dgram.createSocket('udp4');
  front.on('message', (msg, client) => {
    const key = `${client.address}:${client.port}`;
    let upstream = upstreams.get(key);
    if (!upstream) {
      const sock = dgram.createSocket('udp4');
      sock.on('message', (reply) => {
        if (passes(reply)) front.send(reply, client.port, client.address);
      });
      sock.bind(0);
      upstreams.set(key, sock);
      upstream = sock;
    }
    if (passes(msg)) upstream.send(msg, opts.target.port, opts.target.host);
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  return {
    port: front.address().port,
    stats: () => ({ ...counters }),
    async close() {
      const all = [front, ...upstreams.values()];
      upstreams.clear();
      await Promise.all(all.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
