import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMasterPlaylist, parseMediaPlaylist } from '../../pipelines/hls-playlist.ts';
import { operatorKey } from '../../src/services/secret.ts';
import { apiCall, until } from '../helpers/api.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** One sample of Prometheus text format 0.0.4: `name{label="value",...} number`. */
const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|[Nn][Aa][Nn]|[+-]Inf)$/;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the exposition strictly: every line is a comment (HELP/TYPE) or a well-formed sample. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  const typed = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      typed.add(name!);
      continue;
    }
    const match = SAMPLE.exec(line);
    expect(match, `not a Prometheus sample: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, k, v] of (match![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k!] = v!;
    const name = match![1]!;
    expect(
      typed.has(name) || typed.has(name.replace(/_(bucket|sum|count)$/, '')),
      `${name} has a TYPE line`,
    ).toBe(true);
    samples.push({ name, labels, value: Number(match![3]) });
  }
  return samples;
}

const total = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

describe('metrics, status and the queue dashboard', () => {
  let server: TestServer;
  let work: string;
  let key: string;
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-metrics-'));
    server = await startTestServer();
    key = operatorKey(server.secret);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const scrape = async () => {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await res.text());
  };

  it('/metrics needs the operator key: none, an account key or a wrong one get 401', async () => {
    for (const authorization of [undefined, `Bearer ${server.apiKey}`, `Bearer ${key}x`, 'Basic Og==']) {
      const res = await fetch(`${server.url}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      expect(res.status, authorization).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="onair operator"/);
      expect(await res.text()).not.toMatch(/onair_/);
    }
  });

  it('shows every role, parses as Prometheus text, and its counters move when a viewer watches', async () => {
    const source = await makeSource(path.join(work, 'talk.mp4'), { width: 320, height: 180, seconds: 3 });
    const uploaded = await server.client.upload(source, 'talk');
    const ready = await server.client.waitForAsset(uploaded.id, undefined, 200);
    expect(ready.status).toBe('ready');

    // The worker publishes its snapshot every few seconds: its finished job shows up.
    const before = await until(
      'the worker to report its finished transcode',
      async () => {
        const samples = await scrape();
        return total(samples, 'onair_jobs_total', { name: 'transcode-vod', outcome: 'completed' }) >= 1
          ? samples
          : undefined;
      },
      20_000,
    );
    const roles = new Set(
      before.filter((s) => s.name === 'onair_process_cpu_seconds_total').map((s) => s.labels.role),
    );
    expect([...roles].sort()).toEqual(['api', 'ingest', 'worker']);
    expect(
      total(before, 'onair_job_duration_seconds_count', { name: 'transcode-vod' }),
    ).toBeGreaterThanOrEqual(1);
    for (const state of ['waiting', 'active', 'delayed', 'failed'])
      expect(before.some((s) => s.name === 'onair_queue_jobs' && s.labels.state === state)).toBe(true);

    // A viewer: the master, a media playlist, the init segment and every media segment, twice.
    const master = ready.playback!.master;
    const base = master.slice(0, master.lastIndexOf('/') + 1);
    const variant = parseMasterPlaylist(await (await fetch(master)).text()).variants[0]!;
    const media = new URL(variant.uri, base).href;
    const playlist = parseMediaPlaylist(await (await fetch(media)).text());
    let bytes = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (const segment of playlist.segments) {
        const res = await fetch(new URL(segment.uri, media));
        expect(res.status).toBe(200);
        bytes += (await res.arrayBuffer()).byteLength;
      }
    }
    // The viewer's player reports in: a viewing of an event, with two stalls.
    const event = await apiCall<{ id: string; webinarId: string }>(server, 'POST', '/api/events', {
      title: 'Metrics',
      type: 'on_demand',
      assetId: uploaded.id,
    });
    expect(event.status).toBe(201);
    const page = `${server.url}/w/${event.json.webinarId.replace(/-/g, '')}`;
    const info = (await (await fetch(`${page}/info.json`)).json()) as { playback: { view: string } };
    const beat = await fetch(`${page}/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        view: info.playback.view,
        position: 2,
        played: 2,
        stalls: 2,
        stalledSeconds: 1.5,
      }),
    });
    expect(beat.status).toBe(204);
    // A report without a viewing grant counts for nothing.
    const forged = await fetch(`${page}/heartbeat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ view: 'x', position: 2, played: 2, stalls: 50 }),
    });
    expect(forged.status).toBe(403);

    const after = await scrape();
    // Per-scrape gauges are computed at most once a second.
    await until(
      'the viewer counted',
      async () => total(await scrape(), 'onair_viewers', { event: event.json.id }) === 1,
    );
    expect(total(after, 'onair_viewer_stalls_total', { type: 'on_demand' })).toBe(2);
    expect(total(after, 'onair_viewer_stalled_seconds_total', { type: 'on_demand' })).toBe(1.5);
    const moved = (name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    expect(moved('onair_origin_requests_total', { kind: 'segment', status: '200' })).toBe(
      2 * playlist.segments.length,
    );
    expect(moved('onair_origin_requests_total', { kind: 'playlist', status: '200' })).toBe(2);
    expect(moved('onair_origin_sent_bytes_total', { kind: 'segment' })).toBe(bytes);
    expect(moved('onair_origin_request_duration_seconds_count', { kind: 'segment' })).toBe(
      2 * playlist.segments.length,
    );
    // The second pass came from memory: hits moved at least as much as the segment count.
    expect(moved('onair_origin_cache_lookups_total', { result: 'hit' })).toBeGreaterThanOrEqual(
      playlist.segments.length,
    );
    expect(total(after, 'onair_http_requests_total', { status: '2xx' })).toBeGreaterThan(0);
    expect(after.some((s) => s.name === 'onair_ffmpeg_processes' && s.labels.role === 'worker')).toBe(true);
  }, 90_000);

  it('/status says how each part is, publicly, without ids, addresses or secrets', async () => {
    const report = await until(
      'every role on the status page',
      async () => {
        const res = await fetch(`${server.url}/status.json`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as {
          status: string;
          parts: { name: string; state: string; detail: string }[];
        };
        return body.status === 'operational' ? body : undefined;
      },
      15_000,
    );
    expect(report.parts.map((p) => p.name)).toEqual([
      'Web and API',
      'Database',
      'Queue (Redis)',
      'Media storage',
      'Workers',
      'Live ingest',
      'Job queues',
    ]);
    const page = await fetch(`${server.url}/status`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('All systems operational');
    const text = JSON.stringify(report) + html;
    for (const secret of [server.secret, server.apiKey, key, server.redisUrl, server.dataDir, os.hostname()])
      expect(text).not.toContain(secret);
    expect(text).not.toMatch(/evt_|asset_|127\.0\.0\.1/);
  });

  it('the queue dashboard (bull-board) opens with the operator key only, and refuses writes from other sites', async () => {
    expect((await fetch(`${server.url}/admin/queues`)).status).toBe(401);
    const basic = `Basic ${Buffer.from(`operator:${key}`).toString('base64')}`;
    const page = await fetch(`${server.url}/admin/queues`, { headers: { authorization: basic } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/onair queues|bull/i);
    const queues = await fetch(`${server.url}/admin/queues/api/queues`, {
      headers: { authorization: basic },
    });
    expect(queues.status).toBe(200);
    const names = ((await queues.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['email', 'live', 'maintenance', 'media', 'webhooks']);
    // A page elsewhere posting to the dashboard with the browser's remembered credentials.
    const forged = await fetch(`${server.url}/admin/queues/api/queues/media/clean/completed`, {
      method: 'PUT',
      headers: { authorization: basic, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(forged.status).toBe(403);
  });
});
