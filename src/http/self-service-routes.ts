import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { openBound, type SignedPurpose } from '../automated/links.ts';
import type { Db } from '../db/database.ts';
import { findEvent, gateOf, type EventRow } from '../db/events.ts';
import {
  eraseRegistrants,
  findRegistrant,
  rectifyRegistrant,
  restrictRegistrant,
  stopReminders,
  withdrawMarketing,
  type RegistrantRow,
} from '../db/registrants.ts';
import { formatWebinarId } from '../ids.ts';
import { registrantData } from '../services/registrant-export.ts';
import { HttpError, parseOr400 } from './errors.ts';
import { SafeText } from './input.ts';
import { ViewerAccess } from './viewer-access.ts';
import { viewerTranslator } from './viewer-language.ts';

export interface SelfServiceDeps {
  db: Db;
  secret: string;
  now?: () => number;
}

const Rectification = z
  .object({
    name: SafeText(100).nullable().optional(),
    company: SafeText(100).nullable().optional(),
  })
  .strict()
  .refine((r) => r.name !== undefined || r.company !== undefined, {
    message: 'give name or company (or both) to correct',
  });

const Restriction = z.object({ restricted: z.boolean() }).strict();

/**
 * A registrant's own data, behind the personal link mailed to them or shown to the browser that
 * registered (GDPR arts. 15-18, 20, 21): see and download it, correct it, restrict its use,
 * withdraw marketing consent, erase it. Every change is recorded in the append-only history.
 */
export function selfServiceRoutes(deps: SelfServiceDeps): Router {
  const { db, secret } = deps;
  const now = deps.now ?? (() => Date.now());
  const access = new ViewerAccess(db, secret, now);
  const router = Router();

  /** The registrant and event a personal link names, checked against both rows. */
  async function linked(
    purpose: SignedPurpose,
    req: Request,
  ): Promise<{ registrant: RegistrantRow; event: EventRow }> {
    const link = openBound(purpose, String(req.params.token), secret, Math.floor(now() / 1000));
    const event = link ? await findEvent(db, link.eventId) : undefined;
    const owned = event && event.account_id === link?.accountId;
    const registrant = owned && link.fields[0] ? await findRegistrant(db, link.fields[0]) : undefined;
    if (!event || !registrant || registrant.event_id !== event.id) {
      throw new HttpError(404, 'not_found', viewerTranslator(req).t('me.invalidLink'));
    }
    return { registrant, event };
  }

  const live = (req: Request, registrant: RegistrantRow, event: EventRow) => {
    if (registrant.anonymised_at)
      throw new HttpError(410, 'erased', viewerTranslator(req, event).t('me.deleted'));
  };

  const escapeHtml = (s: string) =>
    s.replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
    );

  // RFC 8058 one-click unsubscribe (POST), and a page with the same button for people (GET must not act).
  router.get('/u/:token', async (req, res) => {
    const { event } = await linked('unsub', req);
    const { language, t } = viewerTranslator(req, event);
    const h = (key: Parameters<typeof t>[0]) => escapeHtml(t(key));
    res
      .type('html')
      .set({ 'Cache-Control': 'no-store', 'Content-Language': language, Vary: 'Accept-Language' })
      .send(
        `<!doctype html><html lang="${language}"><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${h('unsubscribe.title')}</title><link rel="stylesheet" href="/player/base.css"><main class="narrow"><h1>${h('unsubscribe.heading')}</h1><form method="post"><button>${h('unsubscribe.button')}</button></form></main></html>`,
      );
  });

  router.post('/u/:token', express.urlencoded({ extended: false, limit: '1kb' }), async (req, res) => {
    const { registrant, event } = await linked('unsub', req);
    await stopReminders(db, registrant.id);
    res
      .type('text')
      .set('Cache-Control', 'no-store')
      .send(viewerTranslator(req, event).t('unsubscribe.done'));
  });

  router.get('/me/:token/data.:format', async (req, res) => {
    const { registrant, event } = await linked('me', req);
    const data = await registrantData(db, event, registrant.id);
    if (!data) throw new HttpError(404, 'not_found', 'No data.');
    res.set('Cache-Control', 'no-store');
    if (req.params.format === 'csv') {
      res.type('text/csv; charset=utf-8').attachment('my-data.csv').send(data.csv);
    } else if (req.params.format === 'json') {
      res.attachment('my-data.json').json(data.json);
    } else throw new HttpError(404, 'not_found', 'Ask for data.csv or data.json.');
  });

  router.get('/me/:token/status.json', async (req, res) => {
    const { registrant, event } = await linked('me', req);
    const gate = gateOf(event);
    res.set('Cache-Control', 'no-store').json({
      event: { title: event.title, webinarId: formatWebinarId(event.webinar_id) },
      email: registrant.email,
      name: registrant.name,
      company: registrant.company,
      fields: gate.fields,
      marketingConsent: registrant.marketing_consent === 1,
      restricted: Boolean(registrant.restricted_at),
      erased: Boolean(registrant.anonymised_at),
      // The language of the page's words (the page's `<html lang>` says the same).
      language: viewerTranslator(req, event).language,
    });
  });

  router.post('/me/:token/withdraw', async (req, res) => {
    const { registrant, event } = await linked('me', req);
    live(req, registrant, event);
    if (registrant.marketing_consent === 1) await withdrawMarketing(db, registrant.id, 'self_service');
    res.status(204).end();
  });

  router.post('/me/:token/rectify', async (req, res) => {
    const { registrant, event } = await linked('me', req);
    live(req, registrant, event);
    const body = parseOr400(Rectification, req.body, 'body');
    await rectifyRegistrant(db, registrant.id, body, 'self_service');
    res.status(204).end();
  });

  router.post('/me/:token/restrict', async (req, res) => {
    const { registrant, event } = await linked('me', req);
    live(req, registrant, event);
    const { restricted } = parseOr400(Restriction, req.body, 'body');
    await restrictRegistrant(db, registrant.id, restricted, 'self_service');
    res.status(204).end();
  });

  router.post('/me/:token/delete', async (req, res) => {
    const { registrant, event } = await linked('me', req);
    await eraseRegistrants(db, [registrant.id]);
    access.revoke(res, event);
    res.status(204).end();
  });

  return router;
}
