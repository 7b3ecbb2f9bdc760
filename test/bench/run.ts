/** `npm run bench [-- name...]`: runs the named benchmarks (all by default) and prints their figures. */
const benches: Record<string, () => Promise<{ run: () => Promise<void> }>> = {
  'vod-ladder': () => import('./vod-ladder.ts'),
  origin: () => import('./origin.ts'),
  'live-latency': () => import('./live-latency.ts'),
  simulive: () => import('./simulive.ts'),
  schedule: () => import('./schedule.ts'),
  'anonymous-load': () => import('./anonymous-load.ts'),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : Object.keys(benches);
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
