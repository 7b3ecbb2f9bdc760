import type { Request, Response } from 'express';
import { readBound, signBound } from '../automated/links.ts';
import { isSessionStart, type Schedule } from '../automated/schedule.ts';
import { gateOf, scheduleOf, type EventRow } from '../db/events.ts';
import type { Db } from '../db/database.ts';
import { findRegistrant, type RegistrantRow } from '../db/registrants.ts';
import { HttpError } from './errors.ts';

/**
 * Who a viewer is, from what their browser carries. Everything here is bound to the event (and its
 * account) it was issued for; knowing an email, a webinar ID or a registrant id grants nothing.
 */
export interface Viewer {
  /** The registration this browser holds for this event (never an erased one). */
  readonly registrant: RegistrantRow | undefined;
  /**
   * Whether this browser may act for the registrant (their data page, consent changes, erasure,
   * votes, moving their session): it created the registration, or came through a link mailed to
   * that address. A browser that merely typed the same email may watch, nothing more.
   */
  readonly owner: boolean;
}

const ACCESS_DAYS = 90;
const SESSION_COOKIE_DAYS = 30;
/** An on-demand session starts when the viewer arrives: a start in the future was not given by us. */
const CLOCK_SKEW_MS = 5_000;

const accessCookie = (event: EventRow) => `onair_w_${event.webinar_id}`;
/** The session an anonymous (or non-owner) viewer of an automated webinar picked. */
const sessionCookie = (event: EventRow) => `onair_s_${event.webinar_id}`;

/** A cookie's value, or undefined; malformed headers and encodings are just "no cookie". */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.get('cookie');
  if (!header || header.length > 16_384) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Whether `startMs` is a session of this schedule a viewer may hold (checked on every use). */
export function isValidSessionStart(schedule: Schedule, startMs: number, nowMs: number): boolean {
  if (!Number.isSafeInteger(startMs) || startMs % 1000 !== 0) return false;
  if (schedule.kind === 'on_demand') return startMs <= nowMs + CLOCK_SKEW_MS;
  return isSessionStart(schedule, startMs);
}

/** The one access rule of an event's viewer pages: an email gate admits registrants only. */
export function canWatch(event: EventRow, viewer: Viewer): boolean {
  return !gateOf(event).emailRequired || viewer.registrant !== undefined;
}

/** `canWatch`, or the 403 a viewer the gate does not admit gets (with what to do in `message`). */
export function requireWatch(event: EventRow, viewer: Viewer, message: string): void {
  if (!canWatch(event, viewer)) throw new HttpError(403, 'forbidden', message);
}

export class ViewerAccess {
  constructor(
    private readonly db: Db,
    private readonly secret: string,
    private readonly now: () => number,
  ) {}

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The viewer this request comes from, for this event. */
  async viewerOf(req: Request, event: EventRow): Promise<Viewer> {
    const raw = readCookie(req, accessCookie(event));
    const fields = raw ? readBound('access', raw, event, this.secret, this.nowSeconds()) : undefined;
    return this.viewerFor(event, fields?.[0], fields?.[1] === 'owner');
  }

  async viewerFor(event: EventRow, registrantId: string | undefined, owner: boolean): Promise<Viewer> {
    const row = registrantId ? await findRegistrant(this.db, registrantId) : undefined;
    const registrant = row && row.event_id === event.id && !row.anonymised_at ? row : undefined;
    return { registrant, owner: Boolean(registrant) && owner };
  }

  /** Lets this browser watch as `registrant`; `owner` only for its creator or a mailed link. */
  grant(req: Request, res: Response, event: EventRow, registrantId: string, owner: boolean): void {
    const expires = this.nowSeconds() + ACCESS_DAYS * 86_400;
    const value = signBound(
      'access',
      event,
      [registrantId, owner ? 'owner' : 'viewer'],
      this.secret,
      expires,
    );
    this.setCookie(req, res, event, accessCookie(event), value, ACCESS_DAYS);
  }

  revoke(res: Response, event: EventRow): void {
    res.clearCookie(accessCookie(event), { path: `/w/${event.webinar_id}` });
  }

  /** Remembers the session this browser picked (anonymous viewers, or a registration it does not own). */
  pickSession(req: Request, res: Response, event: EventRow, startMs: number): void {
    const expires = this.nowSeconds() + SESSION_COOKIE_DAYS * 86_400;
    const value = signBound('session', event, [String(startMs / 1000)], this.secret, expires);
    this.setCookie(req, res, event, sessionCookie(event), value, SESSION_COOKIE_DAYS);
  }

  /**
   * The session this viewer watches (ms), validated against the schedule now: an owner's booking,
   * else the one this browser picked, else a non-owner's registration's booking.
   */
  chosenSession(req: Request, event: EventRow, viewer: Viewer): number | undefined {
    const schedule = scheduleOf(event);
    if (!schedule) return undefined;
    const booked = viewer.registrant?.session_at ? Date.parse(viewer.registrant.session_at) : undefined;
    const raw = readCookie(req, sessionCookie(event));
    const fields = raw ? readBound('session', raw, event, this.secret, this.nowSeconds()) : undefined;
    const picked = fields?.[0] && /^\d{1,12}$/.test(fields[0]) ? Number(fields[0]) * 1000 : undefined;
    const order = viewer.owner ? [booked, picked] : [picked, booked];
    return order.find((ms) => ms !== undefined && isValidSessionStart(schedule, ms, this.now()));
  }

  /** A signed cookie scoped to the event's pages. */
  private setCookie(req: Request, res: Response, event: EventRow, name: string, value: string, days: number) {
    res.cookie(name, value, {
      httpOnly: true,
      // Embedded players live in third-party iframes: that needs SameSite=None, which needs HTTPS.
      sameSite: req.secure ? 'none' : 'lax',
      secure: req.secure,
      path: `/w/${event.webinar_id}`,
      maxAge: days * 86_400_000,
      encode: String,
    });
  }
}
