import { describe, expect, it } from 'vitest';
import { ByteLru, SingleFlight } from '../../src/origin/object-cache.ts';

describe('ByteLru', () => {
  it('evicts the least recently used entries once over its byte limit', () => {
    const lru = new ByteLru<string>(10);
    lru.set('a', 'A', 4);
    lru.set('b', 'B', 4);
    expect(lru.get('a')).toBe('A'); // a is now the most recent
    lru.set('c', 'C', 4);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe('A');
    expect(lru.get('c')).toBe('C');
    expect(lru.bytes).toBe(8);
  });

  it('counts a replaced entry once, and keeps nothing larger than the whole limit', () => {
    const lru = new ByteLru<string>(10);
    lru.set('a', 'A1', 6);
    lru.set('a', 'A2', 3);
    expect(lru.bytes).toBe(3);
    expect(lru.get('a')).toBe('A2');
    lru.set('huge', 'H', 11);
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.get('a')).toBe('A2');
    lru.delete('a');
    expect(lru.bytes).toBe(0);
  });
});

describe('SingleFlight', () => {
  it('runs one load for concurrent callers of one key, and a new one once it has settled', async () => {
    const flights = new SingleFlight<number>();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const load = async () => {
      runs++;
      await gate;
      return runs;
    };
    const waiting = Array.from({ length: 5 }, () => flights.run('k', load));
    const other = flights.run('other', () => Promise.resolve(-1));
    release();
    expect(await Promise.all(waiting)).toEqual([1, 1, 1, 1, 1]);
    expect(await other).toBe(-1);
    expect(flights.size).toBe(0);
    expect(await flights.run('k', load)).toBe(2);
  });

  it('does not remember a failure', async () => {
    const flights = new SingleFlight<string>();
    const failing = [
      flights.run('k', () => Promise.reject(new Error('down'))),
      flights.run('k', () => Promise.resolve('never')),
    ];
    for (const p of failing) await expect(p).rejects.toThrow('down');
    expect(await flights.run('k', () => Promise.resolve('up'))).toBe('up');
  });
});
