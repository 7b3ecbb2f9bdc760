import type { ServerResponse } from 'node:http';

/**
 * Requests the origin holds for a live file to change (LL-HLS blocking playlist reloads, parts asked
 * for before they exist), and reads of live files that a change notice makes stale. Woken by the
 * change notices the live job publishes on Redis (`src/live/live-playlists.ts`).
 */

/** Why a held request resumes: a change of its file, its deadline, its client gone, the origin closing. */
export type Wake = 'changed' | 'timeout' | 'gone' | 'closed';

/** One request held for the changes of one live file, until `release()`. */
export class HeldRequest {
  /** A wake that came while the request was not waiting (reading Redis): taken by the next `next()`. */
  #pending: Wake | undefined;
  #resume: ((wake: Wake) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #gone = () => {
    this.release();
    this.wake('gone');
  };

  constructor(
    private readonly res: ServerResponse,
    private readonly remove: (held: HeldRequest) => void,
  ) {
    if (res.closed) this.#pending = 'gone';
    else res.once('close', this.#gone);
  }

  wake(why: Wake): void {
    const resume = this.#resume;
    if (!resume) {
      // The client gone, or the origin closing, outranks a change.
      if (this.#pending !== 'gone' && this.#pending !== 'closed') this.#pending = why;
      return;
    }
    clearTimeout(this.#timer);
    this.#resume = undefined;
    this.#timer = undefined;
    resume(why);
  }

  /** The next change of the file, or `timeout` after `ms`, or `gone` as soon as the client is. */
  next(ms: number): Promise<Wake> {
    const pending = this.#pending;
    if (pending) {
      this.#pending = pending === 'changed' ? undefined : pending;
      return Promise.resolve(pending);
    }
    return new Promise((resolve) => {
      this.#resume = resolve;
      this.#timer = setTimeout(() => this.wake('timeout'), Math.max(0, ms));
    });
  }

  release(): void {
    this.res.off('close', this.#gone);
    this.remove(this);
  }
}

/**
 * Every request an origin process holds, by the live file it waits for (`<assetId>/<file>`, as
 * change notices name it): one notice wakes that file's requests, and nothing else is visited.
 */
export class HeldRequests {
  readonly #byFile = new Map<string, Set<HeldRequest>>();
  #count = 0;

  constructor(private readonly limit: number) {}

  get count(): number {
    return this.#count;
  }

  /** Holds `res` for changes of `file`; undefined when `limit` requests are held already. */
  hold(file: string, res: ServerResponse): HeldRequest | undefined {
    if (this.#count >= this.limit) return undefined;
    let set = this.#byFile.get(file);
    if (!set) this.#byFile.set(file, (set = new Set()));
    const held = new HeldRequest(res, (h) => {
      if (!set.delete(h)) return;
      this.#count -= 1;
      if (set.size === 0) this.#byFile.delete(file);
    });
    set.add(held);
    this.#count += 1;
    return held;
  }

  changed(file: string): void {
    const set = this.#byFile.get(file);
    if (set) for (const held of set) held.wake('changed');
  }

  /** Every held request looks again (change notices may have been lost). */
  changedAll(): void {
    for (const set of this.#byFile.values()) for (const held of set) held.wake('changed');
  }

  closeAll(): void {
    for (const set of this.#byFile.values()) for (const held of set) held.wake('closed');
  }
}

/**
 * Concurrent reads of one live file from Redis share one run, as SingleFlight's do, except that a
 * change notice makes the run in flight stale: it may have read the file before the change (the
 * notice comes over another connection, in no set order with the reply), so a request woken by the
 * notice starts a new run instead of taking the old one's answer, and the old one keeps nothing.
 */
export class NoticedFlight<V> {
  readonly #running = new Map<string, { stale: boolean; value: Promise<V> | undefined }>();

  /** `load` is told, once it has read, whether no notice came meanwhile (so its answer may be kept). */
  run(key: string, load: (fresh: () => boolean) => Promise<V>): Promise<V> {
    const running = this.#running.get(key);
    if (running?.value && !running.stale) return running.value;
    const flight = { stale: false, value: undefined as Promise<V> | undefined };
    flight.value = load(() => !flight.stale).finally(() => {
      if (this.#running.get(key) === flight) this.#running.delete(key);
    });
    this.#running.set(key, flight);
    return flight.value;
  }

  changed(key: string): void {
    const running = this.#running.get(key);
    if (running) running.stale = true;
  }

  changedAll(): void {
    for (const running of this.#running.values()) running.stale = true;
  }
}
