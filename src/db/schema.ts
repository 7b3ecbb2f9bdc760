import type { Generated } from 'kysely';
import type { LanguageSetting } from '../i18n/languages.ts';

/** Timestamps are ISO-8601 text in UTC: portable between SQLite and PostgreSQL, and they sort. */
export interface AccountsTable {
  id: string;
  name: string;
  created_at: string;
  /** The owner asked to delete the account: it is closed, and purged after the grace period. */
  deletion_requested_at: string | null;
}

export interface ApiKeysTable {
  id: string;
  account_id: string;
  /** SHA-256 of the key: keys are 256-bit random, so a slow hash adds nothing. */
  key_hash: string;
  label: string;
  created_at: string;
  last_used_at: string | null;
}

/** owner: everything; manager: webinars, recordings, registrants; presenter: only their events' stream settings. */
export type Role = 'owner' | 'manager' | 'presenter';

export interface UsersTable {
  id: string;
  account_id: string;
  /** Lower-cased. */
  email: string;
  name: string;
  role: Role;
  /** `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url). */
  password_hash: string;
  created_at: string;
  password_changed_at: string;
}

export interface UserSessionsTable {
  /** SHA-256 of the cookie's random token. */
  token_hash: string;
  user_id: string;
  created_at: string;
  expires_at: string;
  last_seen_at: string;
}

export interface InvitationsTable {
  id: string;
  account_id: string;
  email: string;
  role: Role;
  /** Events a presenter is invited to present (JSON array of ids). */
  event_ids_json: string;
  invited_by: string | null;
  created_at: string;
  expires_at: string;
  accepted_at: string | null;
}

export interface EventPresentersTable {
  event_id: string;
  user_id: string;
}

export type AssetStatus = 'uploaded' | 'processing' | 'ready' | 'failed';

export interface AssetsTable {
  id: string;
  account_id: string;
  title: string;
  status: AssetStatus;
  stage: string;
  progress: number;
  error: string | null;
  attempts: Generated<number>;
  source_key: string;
  source_bytes: number;
  source_name: string | null;
  /** ffprobe facts (JSON). */
  source_json: string | null;
  duration_seconds: number | null;
  /** Published renditions (JSON); set with `revision` when the asset turns ready. */
  renditions_json: string | null;
  /** Storage folder of the published output: `assets/<id>/<revision>/`. */
  revision: string | null;
  /** Folder of the attempt still encoding, playable while it grows. */
  preview_revision: string | null;
  has_poster: Generated<number>;
  has_storyboard: Generated<number>;
  created_at: string;
  updated_at: string;
  ready_at: string | null;
}

export type EventType = 'on_demand' | 'live' | 'automated';

export interface EventsTable {
  id: string;
  account_id: string;
  /** Random 9 digits, unique, never sequential; shown as 123-456-789. */
  webinar_id: string;
  title: string;
  description: string;
  type: EventType;
  asset_id: string | null;
  starts_at: string;
  /** Gate settings (JSON, see `GateSettings`). */
  gate_json: string;
  replay_expires_at: string | null;
  ended_at: string | null;
  created_at: string;
  updated_at: string;
  /** Live events: the presenter's RTMP stream key (128-bit random), rotatable. */
  stream_key: string | null;
  stream_key_disabled: Generated<number>;
  /** Live events: 1 streams LL-HLS parts (when `LIVE_LOW_LATENCY` is on), 0 regular HLS only. */
  low_latency: Generated<number>;
  /** 1: SRT callers must encrypt with the event's passphrase (`src/live/srt-passphrase.ts`). */
  srt_encrypted: Generated<number>;
  live_status: Generated<LiveStatus>;
  live_started_at: string | null;
  /** Automated events: when they air (JSON, see `Schedule`). */
  schedule_json: string | null;
  /** Timed calls-to-action, polls and chat (JSON, see `Interactions`). */
  interactions_json: string | null;
  /** Viewer pages, emails and invites: one language for all, or `auto` (each viewer's browser). */
  language: Generated<LanguageSetting>;
}

/** `idle` until the first segment is out, `reconnecting` while the encoder is away, then `ended`. */
export type LiveStatus = 'idle' | 'live' | 'reconnecting' | 'ended';

export type WebhookEventType = 'live.started' | 'live.ended' | 'asset.ready';

export interface WebhooksTable {
  id: string;
  account_id: string;
  url: string;
  /** Signing secret shared with the receiver (HMAC-SHA256 of each body). */
  secret: string;
  /** Subscribed event types (JSON array). */
  events_json: string;
  created_at: string;
}

export interface RegistrantsTable {
  id: string;
  event_id: string;
  email: string | null;
  name: string | null;
  company: string | null;
  marketing_consent: number;
  created_at: string;
  updated_at: string;
  anonymised_at: string | null;
  /** Automated events: the session (ISO start) this registrant is booked on. */
  session_at: string | null;
  reminders_off: Generated<number>;
  /** Restriction of processing (GDPR art. 18): kept, but out of marketing and analytics. */
  restricted_at: string | null;
  /** The supported language the browser asked for at registration: emails of `auto` events use it. */
  language: string | null;
  /** The IANA zone the browser reported at registration: times in emails are shown in it. */
  time_zone: string | null;
}

export interface ConsentsTable {
  id: string;
  registrant_id: string;
  /**
   * The append-only record of what the viewer agreed to and asked for: `access` (watching in
   * exchange for the email), `marketing`, `restriction` (granted = restricted) and `rectification`
   * (granted = 1: name or company corrected).
   */
  purpose: 'access' | 'marketing' | 'restriction' | 'rectification';
  granted: number;
  notice_url: string | null;
  notice_version: string | null;
  source: 'registration' | 'withdrawal' | 'self_service' | 'marketer';
  created_at: string;
}

export interface ViewSessionsTable {
  id: string;
  event_id: string;
  registrant_id: string | null;
  seconds_watched: number;
  furthest_position: number;
  started_at: string;
  last_seen_at: string;
  session_at: string | null;
}

export interface PollVotesTable {
  event_id: string;
  poll_id: string;
  registrant_id: string;
  option_index: number;
  session_at: string | null;
  created_at: string;
}

export interface CtaClicksTable {
  id: string;
  event_id: string;
  cta_id: string;
  registrant_id: string | null;
  session_at: string | null;
  created_at: string;
}

export interface SentEmailsTable {
  id: string;
  registrant_id: string | null;
  kind: string;
  sent_at: string;
}

/**
 * A resumable (tus) upload: its owner, declared length, the bytes stored so far and when it goes.
 * `asset_id` is chosen at creation, so finishing twice (a retry after a crash) makes one asset.
 */
export interface UploadsTable {
  id: string;
  account_id: string;
  asset_id: string;
  title: string;
  filename: string | null;
  filetype: string | null;
  upload_length: number;
  /** Bytes stored in parts: only ever advanced by a compare-and-set on its previous value. */
  upload_offset: Generated<number>;
  part_count: Generated<number>;
  expires_at: string;
  /** Set while a request concatenates the parts into the asset's source (a claim, not a lock). */
  finishing_at: string | null;
  finished_at: string | null;
  created_at: string;
  updated_at: string;
}

/** One stored part of an upload: bytes `[start_offset, start_offset + bytes)` at `storage_key`. */
export interface UploadPartsTable {
  upload_id: string;
  start_offset: number;
  bytes: number;
  storage_key: string;
  created_at: string;
}

export interface Database {
  accounts: AccountsTable;
  api_keys: ApiKeysTable;
  assets: AssetsTable;
  events: EventsTable;
  registrants: RegistrantsTable;
  consents: ConsentsTable;
  view_sessions: ViewSessionsTable;
  webhooks: WebhooksTable;
  poll_votes: PollVotesTable;
  cta_clicks: CtaClicksTable;
  sent_emails: SentEmailsTable;
  users: UsersTable;
  user_sessions: UserSessionsTable;
  invitations: InvitationsTable;
  event_presenters: EventPresentersTable;
  uploads: UploadsTable;
  upload_parts: UploadPartsTable;
}
