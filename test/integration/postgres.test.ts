import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAccount, ensureFirstAccount } from '../../src/db/accounts.ts';
import { insertAsset } from '../../src/db/assets.ts';
import { databaseKind, migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import { isUniqueViolation } from '../../src/db/errors.ts';
import { migrationProvider } from '../../src/db/migrations.ts';
import { findEvent, insertEvent, OPEN_GATE, updateEvent } from '../../src/db/events.ts';
import {
  countRegistrants,
  countRegistrantsBySession,
  listRegistrantsWithStats,
  register,
} from '../../src/db/registrants.ts';
import { anonymiseExpiredRegistrants } from '../../src/services/retention.ts';
import { apiCall } from '../helpers/api.ts';
import { createPostgresDatabase } from '../helpers/database.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * The same checks on SQLite and on PostgreSQL, whatever ONAIR_TEST_DATABASE says: PostgreSQL runs
 * on these machines, so if it does not answer these tests fail (saying so), they do not skip.
 */

const root = path.resolve(import.meta.dirname, '../..');

const TABLES = [
  'accounts',
  'api_keys',
  'assets',
  'consents',
  'cta_clicks',
  'event_presenters',
  'events',
  'invitations',
  'poll_votes',
  'registrants',
  'sent_emails',
  'upload_parts',
  'uploads',
  'user_sessions',
  'users',
  'view_sessions',
  'webhooks',
];

const GATE = {
  emailRequired: true,
  fields: { name: 'optional', company: 'off' },
  privacyNoticeUrl: 'https://example.com/privacy',
  privacyNoticeVersion: '2026-11',
};

let work: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-dbs-'));
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

describe.each(['sqlite', 'postgres'] as const)('on %s', (kind) => {
  let counter = 0;

  /** Where a new, empty database is: a SQLite file in a new folder, or a new PostgreSQL database. */
  function emptyDatabase(): { dataDir: string; databaseUrl: string | undefined } {
    const dataDir = path.join(work, `${kind}-${++counter}`);
    if (kind === 'sqlite') return { dataDir, databaseUrl: undefined };
    const database = createPostgresDatabase();
    cleanups.push(() => database.drop());
    return { dataDir, databaseUrl: database.url };
  }

  function open(where: { dataDir: string; databaseUrl: string | undefined }): Db {
    const db = openDatabase(where);
    cleanups.push(() => db.destroy());
    return db;
  }

  /**
   * Runs `body` in a new Node process with `db` opened on `where` (and `name` imported from
   * `module`), starting its work at the same instant as the others started with it: separate
   * processes, as onair's are (two handles in one process would block each other: better-sqlite3
   * waits for a lock synchronously, holding up the event loop of the handle that holds it).
   */
  /** When the processes of one test start working: late enough for all of them to have loaded. */
  let goAt = 0;
  beforeEach(() => {
    goAt = Date.now() + 4000;
  });

  async function inProcess(
    where: { dataDir: string; databaseUrl: string | undefined },
    body: string,
    [name, module]: [string, string],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; output: string }> {
    const url = (file: string) => JSON.stringify(pathToFileURL(path.join(root, file)).href);
    const script = `
      import { openDatabase } from ${url('src/db/database.ts')};
      import { ${name} } from ${url(module)};
      const db = openDatabase({ dataDir: process.env.ONAIR_T_DIR, databaseUrl: process.env.ONAIR_T_URL || undefined });
      await new Promise((r) => setTimeout(r, Math.max(0, Number(process.env.ONAIR_T_GO) - Date.now())));
      try { ${body} } finally { await db.destroy(); }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      env: {
        ...process.env,
        ...env,
        ONAIR_T_DIR: where.dataDir,
        ONAIR_T_URL: where.databaseUrl ?? '',
        ONAIR_T_GO: String(goAt),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, output };
  }

  async function tableNames(db: Db): Promise<string[]> {
    const tables = await db.introspection.getTables();
    return tables.map((t) => t.name).sort();
  }

  it('migrates an empty database, and a second run changes nothing', async () => {
    const db = open(emptyDatabase());
    expect(databaseKind(db)).toBe(kind);
    await migrateToLatest(db);
    expect(await tableNames(db)).toEqual(TABLES);
    const applied = await db
      .selectFrom('kysely_migration' as never)
      .select(sql<string>`name`.as('name'))
      .execute();
    await migrateToLatest(db);
    const again = await db
      .selectFrom('kysely_migration' as never)
      .select(sql<string>`name`.as('name'))
      .execute();
    expect(again).toEqual(applied);
    expect(applied.map((r) => r.name)).toContain('0007_utc_timestamps');
  });

  it('lets several processes migrate one database at once', async () => {
    const where = emptyDatabase();
    // As the API, a worker and the ingest process do when they start together.
    const runs = await Promise.all(
      [1, 2, 3].map(() =>
        inProcess(where, 'await migrateToLatest(db);', ['migrateToLatest', 'src/db/database.ts']),
      ),
    );
    for (const run of runs) expect(run.code, run.output).toBe(0);
    const db = open(where);
    expect(await tableNames(db)).toEqual(TABLES);
    const applied = await db
      .selectFrom('kysely_migration' as never)
      .select(sql<string>`name`.as('name'))
      .execute();
    expect(applied).toHaveLength(Object.keys(await migrationProvider.getMigrations()).length);
    // A fourth, later: nothing left to do.
    await migrateToLatest(db);
  });

  it('lets several handles in one process migrate one database at once', async () => {
    // Their statements interleave at every await: on SQLite the later ones fail on their first
    // DDL ("table accounts already exists") and run again after the first has committed.
    const where = emptyDatabase();
    const handles = [open(where), open(where), open(where)];
    await Promise.all(handles.map((db) => migrateToLatest(db)));
    expect(await tableNames(handles[2]!)).toEqual(TABLES);
  });

  if (kind === 'postgres') {
    // Scale-out only: with SQLite one API process (the one that migrates) makes the first start.
    it('makes one first account when several API processes start for the first time at once', async () => {
      // Five handles (five pools, as five processes have) on each of three new databases.
      for (const _round of [1, 2, 3]) {
        const where = emptyDatabase();
        const handles = [1, 2, 3, 4, 5].map(() => open(where));
        await migrateToLatest(handles[0]!);
        // Connected beforehand, so that the five first starts overlap instead of queueing on
        // connection set-up.
        await Promise.all(handles.map((db) => sql`select 1`.execute(db)));
        const results = await Promise.all(handles.map((db) => ensureFirstAccount(db, undefined)));
        const accounts = await handles[0]!.selectFrom('accounts').select('id').execute();
        expect(accounts).toHaveLength(1);
        expect(new Set(results.map((r) => r.account.id))).toEqual(new Set([accounts[0]!.id]));
        // Exactly one of them made it, and only that one generated (and will show) a key.
        expect(results.filter((r) => r.generatedKey)).toHaveLength(1);
      }
    });
  }

  it('tells a unique violation by its code, on either driver', async () => {
    const db = open(emptyDatabase());
    await migrateToLatest(db);
    const account = await createAccount(db, 'one');
    const duplicate = await db
      .insertInto('accounts')
      .values({ id: account.id, name: 'two', created_at: new Date().toISOString() })
      .execute()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(duplicate).toBeDefined();
    expect(isUniqueViolation(duplicate)).toBe(true);
    const notNull = await db
      .insertInto('accounts')
      .values({ id: 'acc_x', name: null as unknown as string, created_at: new Date().toISOString() })
      .execute()
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(notNull).toBeDefined();
    expect(isUniqueViolation(notNull)).toBe(false);
    // The message is never read: an error that merely says so is not one.
    expect(isUniqueViolation(new Error('UNIQUE constraint failed: accounts.id'))).toBe(false);
    expect(isUniqueViolation({ code: '23505' })).toBe(true);
    expect(isUniqueViolation({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' })).toBe(true);
    expect(isUniqueViolation(undefined)).toBe(false);
  });

  it('stores times with offsets as UTC, and compares instants (retention)', async () => {
    const db = open(emptyDatabase());
    await migrateToLatest(db);
    const account = await createAccount(db, 'times');
    // 03:00 at +05:00 is 22:00 UTC the day before: as text it sorts after midnight UTC.
    const event = await insertEvent(db, {
      accountId: account.id,
      title: 'Offsets',
      description: '',
      type: 'live',
      assetId: null,
      startsAt: '2030-01-01T10:00:00+02:00',
      gate: OPEN_GATE,
      replayExpiresAt: '2030-01-01T03:00:00+05:00',
    });
    const stored = (await findEvent(db, event.id))!;
    expect(stored.starts_at).toBe('2030-01-01T08:00:00.000Z');
    expect(stored.replay_expires_at).toBe('2029-12-31T22:00:00.000Z');
    await updateEvent(db, event.id, { starts_at: '2030-01-01T09:30:00-01:00' });
    expect((await findEvent(db, event.id))!.starts_at).toBe('2030-01-01T10:30:00.000Z');

    await register(db, {
      eventId: event.id,
      email: 'ada@example.com',
      name: null,
      company: null,
      marketingConsent: false,
      noticeUrl: null,
      noticeVersion: null,
    });
    // Cutoff: midnight UTC on 1 January 2030, after the replay expired (22:00 UTC the day before).
    const erased = await anonymiseExpiredRegistrants(db, new Date('2030-01-02T00:00:00Z'), 1);
    expect(erased).toBe(1);

    // A row written before times were normalised (offset kept) is rewritten by migration 0007.
    await sql`update events set replay_expires_at = ${'2030-06-01T12:00:00+02:00'} where id = ${event.id}`.execute(
      db,
    );
    // The database as it was before 0007: that migration and every later one not yet run.
    await sql`delete from kysely_migration where name >= ${'0007_utc_timestamps'}`.execute(db);
    await sql`drop index if exists view_sessions_last_seen`.execute(db);
    await sql`alter table events drop column low_latency`.execute(db);
    await sql`alter table events drop column language`.execute(db);
    await sql`alter table registrants drop column language`.execute(db);
    await sql`alter table registrants drop column time_zone`.execute(db);
    await sql`drop table event_presenters`.execute(db);
    await sql`drop table invitations`.execute(db);
    await sql`drop table user_sessions`.execute(db);
    await sql`drop table users`.execute(db);
    await sql`alter table accounts drop column deletion_requested_at`.execute(db);
    await sql`alter table api_keys drop column last_used_at`.execute(db);
    await sql`drop table upload_parts`.execute(db);
    await sql`drop table uploads`.execute(db);
    await sql`drop index if exists registrants_event_created`.execute(db);
    await sql`alter table events drop column srt_encrypted`.execute(db);
    await migrateToLatest(db);
    expect((await findEvent(db, event.id))!.replay_expires_at).toBe('2030-06-01T10:00:00.000Z');
  });

  it('returns counts and sums as numbers', async () => {
    const db = open(emptyDatabase());
    await migrateToLatest(db);
    const account = await createAccount(db, 'numbers');
    await insertAsset(db, {
      id: 'as_numbers',
      accountId: account.id,
      title: 'Big',
      sourceKey: 'uploads/as_numbers',
      sourceBytes: 6_000_000_000,
      sourceName: undefined,
    });
    const event = await insertEvent(db, {
      accountId: account.id,
      title: 'Numbers',
      description: '',
      type: 'live',
      assetId: null,
      startsAt: new Date().toISOString(),
      gate: OPEN_GATE,
      replayExpiresAt: null,
    });
    for (const email of ['a@example.com', 'b@example.com']) {
      await register(db, {
        eventId: event.id,
        email,
        name: null,
        company: null,
        marketingConsent: true,
        noticeUrl: null,
        noticeVersion: null,
      });
    }
    const raw = await db
      .selectFrom('registrants')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('event_id', '=', event.id)
      .executeTakeFirstOrThrow();
    // int8 (count) and numeric (sum of a bigint) are numbers here, not strings.
    expect(raw.n).toBe(2);
    const bytes = await db
      .selectFrom('assets')
      .select((eb) => eb.fn.sum('source_bytes').as('total'))
      .executeTakeFirstOrThrow();
    expect(bytes.total).toBe(6_000_000_000);
    const asset = await db.selectFrom('assets').select('source_bytes').executeTakeFirstOrThrow();
    expect(asset.source_bytes).toBe(6_000_000_000);
    expect(await countRegistrants(db, event.id)).toBe(2);
    expect(await countRegistrantsBySession(db, event.id)).toEqual(new Map([[null, 2]]));
    const [first] = await listRegistrantsWithStats(db, event.id, { limit: 10, offset: 0 });
    expect(first).toMatchObject({ seconds_watched: 0, furthest_position: 0, marketing_consent: 1 });
  });

  it('credits heartbeats of one viewing handled at once by two processes, each exactly once', async () => {
    const where = emptyDatabase();
    const db = open(where);
    await migrateToLatest(db);
    const account = await createAccount(db, 'beats');
    const event = await insertEvent(db, {
      accountId: account.id,
      title: 'Beats',
      description: '',
      type: 'live',
      assetId: null,
      startsAt: new Date().toISOString(),
      gate: OPEN_GATE,
      replayExpiresAt: null,
    });
    const startedAt = new Date(Date.now() - 600_000).toISOString();
    // Ten beats at once in each of two processes (two HTTP processes): 20 beats of 5 s each.
    const beats = `await Promise.all(Array.from({ length: 10 }, (_, i) => creditViewSession(db, {
      sessionId: 'view-1', eventId: ${JSON.stringify(event.id)}, registrantId: null, sessionAt: null,
      startedAt: ${JSON.stringify(startedAt)}, at: new Date().toISOString(), played: 5, capSeconds: 1000,
      position: Number(process.env.ONAIR_T_BASE) + i,
    })));`;
    const runs = await Promise.all(
      [0, 10].map((base) =>
        inProcess(where, beats, ['creditViewSession', 'src/db/analytics.ts'], { ONAIR_T_BASE: String(base) }),
      ),
    );
    for (const run of runs) expect(run.code, run.output).toBe(0);
    const row = await db
      .selectFrom('view_sessions')
      .select(['seconds_watched', 'furthest_position'])
      .where('id', '=', 'view-1')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ seconds_watched: 100, furthest_position: 19 });
  });

  describe('20 registrations of one address at once, through the HTTP route', () => {
    let server: TestServer;
    let db: Db;

    beforeAll(async () => {
      const where = emptyDatabase();
      server = await startTestServer({
        // Explicit, whatever ONAIR_TEST_DATABASE says ('' is the SQLite file in DATA_DIR).
        DATABASE_URL: where.databaseUrl ?? '',
        // Two HTTP processes: the registrations race across processes, not only across requests.
        HTTP_PROCESSES: '2',
        REGISTER_RATE_PER_MINUTE: '1000',
        INGEST: 'off',
        WORKERS: '0',
      });
      db = openDatabase({ dataDir: server.dataDir, databaseUrl: server.databaseUrl });
      expect(databaseKind(db)).toBe(kind);
    });

    // Now, not with the other cleanups: HTTP processes forked by one test process share a listening
    // socket for PORT=0 (the cluster module keys handles by address and port), so a server still
    // up would answer part of the next one's requests.
    afterAll(async () => {
      await db?.destroy();
      await server?.close();
    });

    it('answers every one (no 5xx) and keeps exactly one registrant with one consent record', async () => {
      const created = await apiCall<{ id: string; webinarId: string }>(server, 'POST', '/api/events', {
        title: 'Race',
        type: 'live',
        gate: GATE,
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const webinar = created.json.webinarId.replace(/-/g, '');
      const registerAs = async (email: string, name: string) => {
        const response = await fetch(`${server.url}/w/${webinar}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, name, noticeVersion: '2026-11' }),
        });
        const body = (await response.json()) as { state?: string; selfServiceUrl?: string | null };
        return { status: response.status, body };
      };
      // Warm both processes (code, database connections) so the 20 below arrive together, not
      // spread out by a cold start.
      const warm = await Promise.all(
        Array.from({ length: 20 }, (_, i) => registerAs(`warm${i}@example.com`, 'W')),
      );
      expect(warm.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 201));

      // Three rounds, one address each, typed differently: registrations are case-insensitive.
      for (const round of [1, 2, 3]) {
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            registerAs(i % 2 ? `Race${round}@Example.com` : `race${round}@example.com`, `Racer ${i}`),
          ),
        );
        expect(answers.filter((a) => a.status >= 500)).toEqual([]);
        expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 20 }, () => 201));
        // The one that created the registration owns it (its page links the data page); the others watch.
        expect(answers.filter((a) => a.body.selfServiceUrl).length).toBe(1);
        const rows = await db
          .selectFrom('registrants')
          .selectAll()
          .where('event_id', '=', created.json.id)
          .where('email', '=', `race${round}@example.com`)
          .execute();
        expect(rows).toHaveLength(1);
        const consents = await db
          .selectFrom('consents')
          .select(['purpose', 'granted'])
          .where('registrant_id', '=', rows[0]!.id)
          .orderBy('purpose')
          .execute();
        expect(consents).toEqual([
          { purpose: 'access', granted: 1 },
          { purpose: 'marketing', granted: 0 },
        ]);
      }
      expect(await countRegistrants(db, created.json.id)).toBe(23);
    });

    it('stores an event time given with an offset as UTC, through the API', async () => {
      const created = await apiCall<{ id: string; startsAt: string; replayExpiresAt: string }>(
        server,
        'POST',
        '/api/events',
        {
          title: 'Offsets',
          type: 'live',
          startsAt: '2031-03-01T09:00:00+01:00',
          replayExpiresAt: '2031-04-01T00:30:00-04:00',
        },
      );
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      expect(created.json.startsAt).toBe('2031-03-01T08:00:00.000Z');
      expect(created.json.replayExpiresAt).toBe('2031-04-01T04:30:00.000Z');
      const patched = await apiCall<{ startsAt: string }>(server, 'PATCH', `/api/events/${created.json.id}`, {
        startsAt: '2031-03-01T23:15:00-08:00',
      });
      expect(patched.json.startsAt).toBe('2031-03-02T07:15:00.000Z');
      const row = await db
        .selectFrom('events')
        .select('starts_at')
        .where('id', '=', created.json.id)
        .executeTakeFirstOrThrow();
      expect(row.starts_at).toBe('2031-03-02T07:15:00.000Z');
    });
  });
});
