import { isNotConnectionError } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../log.ts';

/** BullMQ needs `maxRetriesPerRequest: null` on connections used by workers. */
export function connectRedis(url: string, outages?: RedisOutageLog): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
  outages?.watch(client);
  return client;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Redis is unreachable right now (ioredis reconnects by itself), as opposed to a failed command. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined && CONNECTION_CODES.has(code)) || !isNotConnectionError(err);
}

/**
 * One line when Redis becomes unreachable and one when it is back, per process. ioredis retries
 * every few hundred ms to 2 s, and each connection (BullMQ workers open one per queue) reports
 * each failed attempt: logged as they come, an outage was hundreds of lines a minute.
 */
export class RedisOutageLog {
  readonly #down = new Set<Redis>();
  #since = 0;

  constructor(private readonly log: Logger) {}

  watch(client: Redis): void {
    client.on('error', (err: Error) => {
      if (!isConnectionError(err)) return this.log.error('redis error', { err: err.message });
      if (this.#down.size === 0) {
        this.#since = Date.now();
        this.log.warn('redis unreachable; retrying', { err: err.message });
      }
      this.#down.add(client);
    });
    client.on('ready', () => {
      if (!this.#down.delete(client) || this.#down.size > 0) return;
      this.log.warn('redis reachable again', { downMs: Date.now() - this.#since });
    });
    // Closed for good (shutdown): no recovery to wait for on its behalf.
    client.on('end', () => this.#down.delete(client));
  }

  /**
   * For BullMQ Queue and Worker `error` events: their connection errors are the outage the
   * watched connections already report; anything else is logged. (A Queue without an `error`
   * listener prints each one to stderr.)
   */
  readonly onError = (err: Error): void => {
    if (!isConnectionError(err)) this.log.error('queue error', { err: err.message });
  };
}
