/** `npm run bench [-- name...]`: runs the named benchmarks (all but the on-request ones by default) and prints their figures. */
const benches: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  'vod-ladder': () => import('./vod-ladder.ts'),
  origin: () => import('./origin.ts'),
  'live-latency': () => import('./live-latency.ts'),
  'live-soak': () => import('./live-soak.ts'),
  simulive: () => import('./simulive.ts'),
  schedule: () => import('./schedule.ts'),
  'anonymous-load': () => import('./anonymous-load.ts'),
  viewers: () => import('./viewers.ts'),
};

/** Run only when named: hours long (BENCH_SOAK_MINUTES), not part of a plain `npm run bench` or CI. */
const onRequest = new Set(['live-soak']);

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : Object.keys(benches).filter((name) => !onRequest.has(name));
for (const name of names) {
  const load = benches[name];
  if (!load) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}`);
    process.exit(1);
  }
  console.log(`\n=== ${name} ===`);
  await (await load()).run();
}
process.exit(0);
