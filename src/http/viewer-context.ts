import crypto from 'node:crypto';
import type { Request } from 'express';
import { personalLinks, signBound } from '../automated/links.ts';
import { findAsset } from '../db/assets.ts';
import type { Db } from '../db/database.ts';
import { findEventByWebinarId, type EventRow } from '../db/events.ts';
import { parseWebinarId } from '../ids.ts';
import type { PlaybackUrls } from '../origin/playback-urls.ts';
import type { JobQueues } from '../queue/catalogue.ts';
import type { Language } from '../i18n/languages.ts';
import { HttpError } from './errors.ts';
import { ViewerAccess, type Viewer } from './viewer-access.ts';
import { eventPage } from './viewer-page.ts';
import type { Metrics } from '../services/metrics.ts';

export interface ViewerRoutesDeps {
  db: Db;
  secret: string;
  urls: PlaybackUrls;
  /** The configured public base URL (PUBLIC_URL, or this server's own address): never a request header. */
  baseUrl: () => string;
  /** Returns false when `key` has been used more than `limit` times in the current window. */
  rateLimit: (key: string, limit: number, windowSeconds: number) => Promise<boolean>;
  registerPerMinute: number;
  queues: JobQueues;
  reminderOffsetsSeconds: readonly number[];
  missedMailDelaySeconds: number;
  /** Players' reports (how far behind live, stalls) are counted here when given. */
  metrics?: Metrics | undefined;
  now?: () => number;
}

/** How long a viewing grant lets heartbeats in (a viewer watching longer gets a new one on reload). */
const VIEW_GRANT_SECONDS = 12 * 3600;

/** What every viewer route module shares: the event a URL names, who the viewer is, the page. */
export class ViewerContext {
  readonly db: Db;
  readonly secret: string;
  readonly now: () => number;
  readonly access: ViewerAccess;

  constructor(readonly deps: ViewerRoutesDeps) {
    this.db = deps.db;
    this.secret = deps.secret;
    this.now = deps.now ?? (() => Date.now());
    this.access = new ViewerAccess(this.db, this.secret, this.now);
  }

  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The event of `/w/:webinarId/...`, or a 404. */
  async eventFor(req: Request): Promise<EventRow> {
    const webinarId = parseWebinarId(String(req.params.webinarId));
    const event = webinarId ? await findEventByWebinarId(this.db, webinarId) : undefined;
    if (!event) throw new HttpError(404, 'not_found', 'Not found');
    return event;
  }

  /**
   * The event page's data for this viewer (`session`: the automated session they hold, ms;
   * `language`: the page's, see `viewerLanguage`).
   */
  async page(event: EventRow, viewer: Viewer, session: number | undefined, language: Language) {
    const asset = event.asset_id ? await findAsset(this.db, event.asset_id) : undefined;
    const base = this.deps.baseUrl();
    const urls = this.deps.urls;
    return eventPage({
      event,
      asset,
      viewer,
      nowMs: this.now(),
      chosenSessionMs: session,
      playback: {
        url: (scope, revision, file, expires) => urls.url(base, 'e', scope, revision, file, expires),
        expiresAt: (cap) => urls.expiresAt(cap),
      },
      viewGrant: (sessionStartMs) => this.viewGrant(event, viewer, sessionStartMs),
      selfServiceUrl: this.selfServiceUrl(event, viewer),
      language,
    });
  }

  /** The data page link, only for the browser that may act for the registrant. */
  private selfServiceUrl(event: EventRow, viewer: Viewer): string | null {
    return viewer.owner && viewer.registrant
      ? personalLinks(this.deps.baseUrl(), event, viewer.registrant.id, this.secret).selfService
      : null;
  }

  /** A signed grant for one viewing: only a viewer the page admitted can report watching. */
  private viewGrant(event: EventRow, viewer: Viewer, sessionStartMs?: number): string {
    const issued = this.nowSeconds();
    return signBound(
      'view',
      event,
      [
        crypto.randomUUID(),
        // Only the registration's own browser watches as the registrant: a browser that typed the
        // same email must not write into their record (nor spare them the no-show mail).
        (viewer.owner && viewer.registrant?.id) || '',
        sessionStartMs !== undefined ? String(sessionStartMs / 1000) : '',
        String(issued),
      ],
      this.secret,
      issued + VIEW_GRANT_SECONDS,
    );
  }
}
