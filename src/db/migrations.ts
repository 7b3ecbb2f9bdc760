import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/**
 * Migrations written with Kysely's schema builder (and plain SQL both dialects read the same
 * way), so SQLite and PostgreSQL run the same statements: text, integer, bigint and double
 * precision columns only (no booleans, dates or JSON types: 0/1 integers, ISO-8601 UTC text and
 * JSON text instead), constant defaults, named indexes, `on delete cascade | set null`. Checked
 * against both by test/integration/postgres.test.ts.
 */
const migrations: Record<string, Migration> = {
  '0001_accounts_assets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('accounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('key_hash', 'text', (c) => c.notNull().unique())
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('assets')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('progress', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('source_key', 'text', (c) => c.notNull())
        .addColumn('source_bytes', 'bigint', (c) => c.notNull())
        .addColumn('source_name', 'text')
        .addColumn('source_json', 'text')
        .addColumn('duration_seconds', 'double precision')
        .addColumn('renditions_json', 'text')
        .addColumn('revision', 'text')
        .addColumn('preview_revision', 'text')
        .addColumn('has_poster', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('has_storyboard', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('ready_at', 'text')
        .execute();
      await db.schema
        .createIndex('assets_account_created')
        .on('assets')
        .columns(['account_id', 'created_at'])
        .execute();
    },
  },
  '0002_events_registrants': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('webinar_id', 'text', (c) => c.notNull().unique())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('asset_id', 'text', (c) => c.references('assets.id').onDelete('set null'))
        .addColumn('starts_at', 'text', (c) => c.notNull())
        .addColumn('gate_json', 'text', (c) => c.notNull())
        .addColumn('replay_expires_at', 'text')
        .addColumn('ended_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('events_account')
        .on('events')
        .columns(['account_id', 'created_at'])
        .execute();
      await db.schema
        .createTable('registrants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        // Personal data: null once erased or anonymised.
        .addColumn('email', 'text')
        .addColumn('name', 'text')
        .addColumn('company', 'text')
        .addColumn('marketing_consent', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('anonymised_at', 'text')
        .execute();
      await db.schema
        .createIndex('registrants_event_email')
        .on('registrants')
        .columns(['event_id', 'email'])
        .unique()
        .execute();
      await db.schema
        .createTable('consents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('registrant_id', 'text', (c) =>
          c.notNull().references('registrants.id').onDelete('cascade'),
        )
        .addColumn('purpose', 'text', (c) => c.notNull())
        .addColumn('granted', 'integer', (c) => c.notNull())
        .addColumn('notice_url', 'text')
        .addColumn('notice_version', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('consents_registrant').on('consents').column('registrant_id').execute();
      await db.schema
        .createTable('view_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('registrant_id', 'text', (c) => c.references('registrants.id').onDelete('set null'))
        .addColumn('seconds_watched', 'double precision', (c) => c.notNull().defaultTo(0))
        .addColumn('furthest_position', 'double precision', (c) => c.notNull().defaultTo(0))
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('view_sessions_event').on('view_sessions').column('event_id').execute();
    },
  },
  '0003_live_webhooks': {
    async up(db: Kysely<unknown>) {
      // SQLite adds one column per ALTER TABLE.
      await db.schema.alterTable('events').addColumn('stream_key', 'text').execute();
      await db.schema
        .alterTable('events')
        .addColumn('stream_key_disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('events')
        .addColumn('live_status', 'text', (c) => c.notNull().defaultTo('idle'))
        .execute();
      await db.schema.alterTable('events').addColumn('live_started_at', 'text').execute();
      await db.schema.createIndex('events_stream_key').on('events').column('stream_key').unique().execute();
      await db.schema
        .createTable('webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('events_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('webhooks_account').on('webhooks').column('account_id').execute();
    },
  },
  '0004_automated_webinars': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('events').addColumn('schedule_json', 'text').execute();
      await db.schema.alterTable('events').addColumn('interactions_json', 'text').execute();
      // The session (start instant, ISO) a registrant is booked on, and whether they opted out of reminders.
      await db.schema.alterTable('registrants').addColumn('session_at', 'text').execute();
      await db.schema
        .alterTable('registrants')
        .addColumn('reminders_off', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .createIndex('registrants_event_session')
        .on('registrants')
        .columns(['event_id', 'session_at'])
        .execute();
      await db.schema.alterTable('view_sessions').addColumn('session_at', 'text').execute();
      await db.schema
        .createTable('poll_votes')
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('poll_id', 'text', (c) => c.notNull())
        .addColumn('registrant_id', 'text', (c) =>
          c.notNull().references('registrants.id').onDelete('cascade'),
        )
        .addColumn('option_index', 'integer', (c) => c.notNull())
        .addColumn('session_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('poll_votes_pk', ['event_id', 'poll_id', 'registrant_id'])
        .execute();
      await db.schema
        .createTable('cta_clicks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('cta_id', 'text', (c) => c.notNull())
        .addColumn('registrant_id', 'text', (c) => c.references('registrants.id').onDelete('set null'))
        .addColumn('session_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('cta_clicks_event')
        .on('cta_clicks')
        .columns(['event_id', 'cta_id'])
        .execute();
      // What was sent, so a retried email job never sends twice.
      await db.schema
        .createTable('sent_emails')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('registrant_id', 'text', (c) => c.references('registrants.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0005_data_rights': {
    async up(db: Kysely<unknown>) {
      // GDPR art. 18: a restricted registrant is kept but not used for marketing or analytics.
      await db.schema.alterTable('registrants').addColumn('restricted_at', 'text').execute();
    },
  },
  '0006_view_sessions_registrant': {
    async up(db: Kysely<unknown>) {
      // A viewer's data page and the no-show mail look up one registrant's viewing.
      await db.schema
        .createIndex('view_sessions_registrant')
        .on('view_sessions')
        .columns(['registrant_id', 'session_at'])
        .execute();
      // URLs stored before only http(s) was accepted: a `javascript:` notice link is dropped.
      const rows = await sql<{ id: string; gate_json: string }>`select id, gate_json from events`.execute(db);
      for (const row of rows.rows) {
        const gate = JSON.parse(row.gate_json) as { privacyNoticeUrl?: string | null };
        if (gate.privacyNoticeUrl && !/^https?:\/\//i.test(gate.privacyNoticeUrl)) {
          gate.privacyNoticeUrl = null;
          await sql`update events set gate_json = ${JSON.stringify(gate)} where id = ${row.id}`.execute(db);
        }
      }
    },
  },
  '0007_utc_timestamps': {
    async up(db: Kysely<unknown>) {
      // Event times were stored as the API received them, offsets included (`+01:00`): text
      // comparisons (retention's cutoff) then compared different clocks. Every stored time is
      // `toISOString()` UTC from now on; older rows are rewritten so (see db/timestamps.ts).
      const rows = await sql<{
        id: string;
        starts_at: string;
        replay_expires_at: string | null;
        ended_at: string | null;
      }>`select id, starts_at, replay_expires_at, ended_at from events`.execute(db);
      const utc = (text: string | null) => {
        const ms = text === null ? NaN : Date.parse(text);
        return Number.isFinite(ms) ? new Date(ms).toISOString() : text;
      };
      for (const row of rows.rows) {
        const [starts, expires, ended] = [row.starts_at, row.replay_expires_at, row.ended_at].map(utc);
        if (starts === row.starts_at && expires === row.replay_expires_at && ended === row.ended_at) continue;
        await sql`update events set starts_at = ${starts}, replay_expires_at = ${expires}, ended_at = ${ended} where id = ${row.id}`.execute(
          db,
        );
      }
    },
  },
  '0008_view_sessions_last_seen': {
    async up(db: Kysely<unknown>) {
      // "Viewers now" of every event (the onair_viewers gauge) reads only the recent viewings.
      await db.schema
        .createIndex('view_sessions_last_seen')
        .on('view_sessions')
        .column('last_seen_at')
        .execute();
    },
  },
  '0009_live_low_latency': {
    async up(db: Kysely<unknown>) {
      // Live events stream LL-HLS parts unless the marketer turns it off for this event
      // (e.g. viewers behind a CDN that cannot hold blocking playlist requests).
      await db.schema
        .alterTable('events')
        .addColumn('low_latency', 'integer', (c) => c.notNull().defaultTo(1))
        .execute();
    },
  },
  '0010_users_sessions': {
    async up(db: Kysely<unknown>) {
      // People who sign in to the app. One account each; the role says what they may do in it.
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('password_changed_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('users_account').on('users').column('account_id').execute();
      // A session is a random token in an HttpOnly cookie; only its SHA-256 is kept.
      await db.schema
        .createTable('user_sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('user_sessions_user').on('user_sessions').column('user_id').execute();
      await db.schema
        .createTable('invitations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('event_ids_json', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('invited_by', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('accepted_at', 'text')
        .execute();
      await db.schema
        .createIndex('invitations_account_email')
        .on('invitations')
        .columns(['account_id', 'email'])
        .execute();
      // Which events a presenter presents (they see only these).
      await db.schema
        .createTable('event_presenters')
        .addColumn('event_id', 'text', (c) => c.notNull().references('events.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('event_presenters_pk', ['event_id', 'user_id'])
        .execute();
      await db.schema.createIndex('event_presenters_user').on('event_presenters').column('user_id').execute();
      // Account deletion: a grace period to reactivate, then the purge.
      await db.schema.alterTable('accounts').addColumn('deletion_requested_at', 'text').execute();
      await db.schema.alterTable('api_keys').addColumn('last_used_at', 'text').execute();
    },
  },
  '0011_event_language': {
    async up(db: Kysely<unknown>) {
      // The language of an event's viewer pages, emails and invites: one of the supported codes, or
      // `auto` (each viewer's Accept-Language; emails: the registrant's browser's at registration).
      await db.schema
        .alterTable('events')
        .addColumn('language', 'text', (c) => c.notNull().defaultTo('auto'))
        .execute();
      await db.schema.alterTable('registrants').addColumn('language', 'text').execute();
      // Times in emails are shown in the zone the registrant's browser reported.
      await db.schema.alterTable('registrants').addColumn('time_zone', 'text').execute();
    },
  },
  '0012_uploads': {
    async up(db: Kysely<unknown>) {
      // Resumable (tus) uploads: the state of each; the bytes are part objects in media storage.
      await db.schema
        .createTable('uploads')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
        .addColumn('asset_id', 'text', (c) => c.notNull().unique())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('filename', 'text')
        .addColumn('filetype', 'text')
        .addColumn('upload_length', 'bigint', (c) => c.notNull())
        .addColumn('upload_offset', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('part_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('finishing_at', 'text')
        .addColumn('finished_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('uploads_expires').on('uploads').column('expires_at').execute();
      await db.schema
        .createTable('upload_parts')
        .addColumn('upload_id', 'text', (c) => c.notNull().references('uploads.id').onDelete('cascade'))
        .addColumn('start_offset', 'bigint', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('storage_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('upload_parts_pk', ['upload_id', 'start_offset'])
        .execute();
    },
  },
  '0013_registrants_event_created': {
    async up(db: Kysely<unknown>) {
      // A page of an event's registrants (searched or not) is read in this order, not sorted whole.
      await db.schema
        .createIndex('registrants_event_created')
        .on('registrants')
        .columns(['event_id', 'created_at', 'id'])
        .execute();
    },
  },
  '0014_srt_encryption': {
    async up(db: Kysely<unknown>) {
      // A live event may require SRT encoders to encrypt (AES) with its passphrase, which is
      // derived from the deployment's secret, the event and its stream key: never stored.
      await db.schema
        .alterTable('events')
        .addColumn('srt_encrypted', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
