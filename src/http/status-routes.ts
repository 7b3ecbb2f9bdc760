import express from 'express';
import type { Redis } from 'ioredis';
import type { Db } from '../db/database.ts';
import { QUEUE_NAMES, type JobQueues } from '../queue/catalogue.ts';
import { coreHealth, storageHealth } from '../services/health.ts';
import { readSnapshots, type Role, type Snapshot } from '../services/metrics.ts';
import type { Storage } from '../storage/storage.ts';

export type PartState = 'up' | 'degraded' | 'down';

export interface StatusPart {
  readonly name: string;
  readonly state: PartState;
  readonly detail: string;
}

export interface StatusReport {
  readonly status: 'operational' | 'degraded' | 'down';
  readonly checkedAt: string;
  readonly parts: readonly StatusPart[];
}

/** What the status page is made of, as measured (no names, ids or addresses: it is public). */
export interface StatusFacts {
  database: boolean;
  redis: boolean;
  storage: boolean;
  /** Processes with a fresh metrics snapshot, by role (undefined: Redis could not be asked). */
  processes: Record<Role, number> | undefined;
  liveStreams: number;
  /** Jobs waiting per queue (undefined: Redis could not be asked). */
  waiting: Record<string, number> | undefined;
  /** Whether this deployment runs an ingest at all (INGEST=off, or scale-out without one). */
  ingestExpected: boolean;
}

const QUEUE_WORDS: Record<string, string> = {
  media: 'recordings to process',
  live: 'live streams to start',
  maintenance: 'maintenance jobs',
  webhooks: 'webhooks to deliver',
  email: 'emails to send',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 'es'}`;

/** The public status, from the facts (pure). Databases and Redis down: down; a role missing: degraded. */
export function statusReport(facts: StatusFacts, now: Date): StatusReport {
  const state = (ok: boolean): PartState => (ok ? 'up' : 'down');
  const parts: StatusPart[] = [
    {
      name: 'Web and API',
      state: 'up',
      detail: facts.processes ? plural(Math.max(1, facts.processes.api), 'process') : 'answering',
    },
    {
      name: 'Database',
      state: state(facts.database),
      detail: facts.database ? 'answering' : 'not answering',
    },
    { name: 'Queue (Redis)', state: state(facts.redis), detail: facts.redis ? 'answering' : 'not answering' },
    {
      name: 'Media storage',
      state: state(facts.storage),
      detail: facts.storage ? 'answering' : 'not answering',
    },
  ];
  if (facts.processes) {
    const workers = facts.processes.worker;
    parts.push({
      name: 'Workers',
      state: workers > 0 ? 'up' : 'down',
      detail:
        workers > 0
          ? `${plural(workers, 'process')}, ${facts.liveStreams} live stream${facts.liveStreams === 1 ? '' : 's'}`
          : 'none running: uploads and live streams wait',
    });
    if (facts.ingestExpected || facts.processes.ingest > 0) {
      const ingest = facts.processes.ingest;
      parts.push({
        name: 'Live ingest',
        state: ingest > 0 ? 'up' : 'down',
        detail: ingest > 0 ? plural(ingest, 'process') : 'not running: presenters cannot connect',
      });
    }
  }
  if (facts.waiting) {
    const backlog = Object.entries(facts.waiting).filter(([, n]) => n > 0);
    parts.push({
      name: 'Job queues',
      state: 'up',
      detail:
        backlog.length === 0
          ? 'nothing waiting'
          : backlog.map(([queue, n]) => `${n} ${QUEUE_WORDS[queue] ?? `${queue} jobs`} waiting`).join(', '),
    });
  }
  const core = parts.slice(0, 4);
  const status = core.some((p) => p.state === 'down')
    ? 'down'
    : parts.some((p) => p.state !== 'up')
      ? 'degraded'
      : 'operational';
  return { status, checkedAt: now.toISOString(), parts };
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const WORDS = { operational: 'All systems operational', degraded: 'Partly degraded', down: 'Down' };

export function statusHtml(report: StatusReport): string {
  const rows = report.parts
    .map(
      (p) =>
        `<tr><th scope="row">${escape(p.name)}</th><td class="state-${p.state}">${p.state}</td><td>${escape(p.detail)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>onair status</title>
<link rel="stylesheet" href="/player/base.css">
<link rel="stylesheet" href="/player/status.css">
</head>
<body>
<main class="status">
<h1>onair status</h1>
<p class="overall state-${report.status === 'operational' ? 'up' : report.status}">${WORDS[report.status]}</p>
<table>
<caption>Checked at <time datetime="${report.checkedAt}">${report.checkedAt.replace('T', ' ').slice(0, 19)} UTC</time> (<a href="/status">check again</a>, or <a href="/status.json">as JSON</a>; the page does not reload by itself, so that a screen reader is never interrupted)</caption>
<thead><tr><th scope="col">Part</th><th scope="col">State</th><th scope="col">Detail</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</main>
</body>
</html>
`;
}

export interface StatusRoutesDeps {
  db: Db;
  redis: Redis;
  storage: Storage;
  queues: JobQueues;
  ingestExpected: boolean;
}

/** A report is computed at most this often per process, however many people watch the page. */
const REPORT_MS = 2000;

/** Live streams running: the sum of the workers' `onair_live_streams` gauges. */
function liveStreamsOf(snapshots: Snapshot[]): number {
  let n = 0;
  for (const s of snapshots)
    for (const metric of s.metrics)
      if (metric.name === 'onair_live_streams') for (const v of metric.values) n += v.value;
  return n;
}

/** `/status` (a page) and `/status.json`: public, the health of each part, nothing secret. */
export function statusRoutes(deps: StatusRoutesDeps): express.Router {
  const router = express.Router();
  let last: { at: number; report: Promise<StatusReport> } | undefined;

  async function measure(): Promise<StatusReport> {
    const [core, storage] = await Promise.all([coreHealth(deps.db, deps.redis), storageHealth(deps.storage)]);
    let processes: StatusFacts['processes'];
    let waiting: StatusFacts['waiting'];
    let liveStreams = 0;
    if (core.redis) {
      try {
        const snapshots = await readSnapshots(deps.redis);
        processes = { api: 0, worker: 0, ingest: 0 };
        for (const s of snapshots) processes[s.role]++;
        liveStreams = liveStreamsOf(snapshots);
        waiting = {};
        for (const name of QUEUE_NAMES) waiting[name] = await deps.queues.queue(name).getWaitingCount();
      } catch {
        // Redis went away between the ping and these reads: reported as unknown, not as a failure.
        processes = undefined;
        waiting = undefined;
      }
    }
    return statusReport(
      { ...core, storage, processes, waiting, liveStreams, ingestExpected: deps.ingestExpected },
      new Date(),
    );
  }

  const report = () => {
    if (!last || Date.now() - last.at >= REPORT_MS) last = { at: Date.now(), report: measure() };
    return last.report;
  };

  router.get('/status.json', async (_req, res) => {
    res
      .set({ 'Cache-Control': 'public, max-age=5', 'Access-Control-Allow-Origin': '*' })
      .json(await report());
  });
  router.get('/status', async (_req, res) => {
    res
      .set('Cache-Control', 'public, max-age=5')
      .type('html')
      .send(statusHtml(await report()));
  });
  return router;
}
