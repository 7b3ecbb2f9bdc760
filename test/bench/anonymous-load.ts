/**
 * What an anonymous request can cost: the event page data (`info.json`) of an automated webinar
 * with a just-in-time schedule every 5 minutes (the review measured 1.4 s per request, and four at
 * once stalled /healthz for 5 s), and /healthz answering while four clients loop on that page.
 * Reproduce: npm run bench -- anonymous-load   (BENCH_DURATION=5 s of load)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeSource } from '../helpers/media.ts';
import { startTestServer } from '../helpers/server.ts';
import { table } from './measure.ts';

const DURATION = Number(process.env.BENCH_DURATION ?? 5);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function timed(url: string): Promise<number> {
  const t = performance.now();
  const response = await fetch(url);
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return performance.now() - t;
}

export async function run(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-anon-bench-'));
  const server = await startTestServer({ LOG_LEVEL: 'error' });
  try {
    const source = await makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 4 });
    const asset = await server.client.waitForAsset(
      (await server.client.upload(source, 'talk')).id,
      undefined,
      200,
    );
    const created = await fetch(`${server.url}/api/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        title: 'Every five minutes',
        type: 'automated',
        assetId: asset.id,
        gate: null,
        schedule: {
          kind: 'jit',
          everyMinutes: 5,
          openingHours: { from: '00:00', to: '24:00' },
          timezone: 'Europe/Rome',
        },
      }),
    });
    const { webinarId } = (await created.json()) as { webinarId: string };
    const info = `${server.url}/w/${webinarId.replace(/-/g, '')}/info.json`;

    const single: number[] = [];
    for (let i = 0; i < 50; i++) single.push(await timed(info));

    const health: number[] = [];
    let stop = false;
    let loaded = 0;
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await timed(info);
        loaded += 1;
      }
    });
    const deadline = Date.now() + DURATION * 1000;
    while (Date.now() < deadline) {
      health.push(await timed(`${server.url}/healthz`));
      await new Promise((r) => setTimeout(r, 100));
    }
    stop = true;
    await Promise.all(clients);

    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const row = (measure: string, v: number[]) => ({
      measure,
      p50: ms(percentile(v, 50)),
      p99: ms(percentile(v, 99)),
      max: ms(Math.max(...v)),
      n: v.length,
    });
    console.log(
      table([
        row('info.json, jit every 5 min, alone', single),
        row('/healthz while 4 clients loop on info.json', health),
      ]),
    );
    console.log(`info.json under load: ${(loaded / DURATION).toFixed(0)} requests/s from 4 clients`);
    console.log('reproduce: npm run bench -- anonymous-load');
  } finally {
    await server.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
