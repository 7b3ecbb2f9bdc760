/** Memory structures of the origin: a byte-bounded LRU and single-flight loading. Pure, no I/O. */

/** A byte-bounded LRU (Map keeps insertion order; a hit re-inserts). */
export class ByteLru<V> {
  readonly #entries = new Map<string, { value: V; bytes: number }>();
  #bytes = 0;

  constructor(private readonly limitBytes: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): V | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, hit);
    return hit.value;
  }

  /** Stores `value` as costing `bytes`; one that alone exceeds the limit is not kept (nor evicts anything). */
  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (bytes > this.limitBytes) return;
    this.#entries.set(key, { value, bytes });
    this.#bytes += bytes;
    for (const [k, v] of this.#entries) {
      if (this.#bytes <= this.limitBytes) break;
      this.#entries.delete(k);
      this.#bytes -= v.bytes;
    }
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (!old) return;
    this.#entries.delete(key);
    this.#bytes -= old.bytes;
  }
}

/**
 * Concurrent calls for one key share one run of `load`: a hundred viewers asking for the segment
 * that just appeared cost one storage read. The key is free again once the run settles (success or
 * failure), so a failure is not remembered.
 */
export class SingleFlight<V> {
  readonly #running = new Map<string, Promise<V>>();

  run(key: string, load: () => Promise<V>): Promise<V> {
    const running = this.#running.get(key);
    if (running) return running;
    const started = load().finally(() => this.#running.delete(key));
    this.#running.set(key, started);
    return started;
  }

  get size(): number {
    return this.#running.size;
  }
}
