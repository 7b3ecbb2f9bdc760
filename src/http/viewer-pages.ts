import fs from 'node:fs';
import path from 'node:path';
import { Router, type RequestHandler, type Response } from 'express';
import { openBound } from '../automated/links.ts';
import type { Db } from '../db/database.ts';
import { findEvent, findEventByWebinarId } from '../db/events.ts';
import { parseWebinarId } from '../ids.ts';
import { LANGUAGES, isLanguage, type Language } from '../i18n/languages.ts';
import { browserMessages, translator, type MessageKey } from '../i18n/messages.ts';
import { viewerLanguage } from './viewer-language.ts';

export interface ViewerPagesDeps {
  db: Db;
  secret: string;
  /** Security headers of the pages other sites may embed, and of those never framed. */
  framed: RequestHandler;
  unframed: RequestHandler;
  now?: () => number;
}

/** The viewer pages in player/*.html; their words are `{{key}}` placeholders of the catalogues. */
export const VIEWER_PAGES = ['event', 'join', 'me', 'play'] as const;
export type ViewerPage = (typeof VIEWER_PAGES)[number];

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * A page template in one language: `{{lang}}` is the language code (the page's `<html lang>`,
 * which its script reads), `{{some.key}}` the message, HTML-escaped.
 */
export function renderPage(template: string, language: Language): string {
  const t = translator(language);
  return template.replace(/\{\{([A-Za-z0-9.]+)\}\}/g, (_match, key: string) =>
    key === 'lang' ? language : escapeHtml(t.t(key as MessageKey)),
  );
}

/**
 * The viewer pages (/join, /w/<id>, /me/<token>, /play/<asset>), each in the language of its
 * viewer, rendered once per language at start-up; and each language's page messages for the
 * pages' scripts (`/player/messages/<language>.json`). The language is the event's when it sets
 * one, else the browser's `Accept-Language`.
 */
export function viewerPageRoutes(root: string, deps: ViewerPagesDeps): Router {
  const now = deps.now ?? (() => Date.now());
  const rendered = new Map<string, string>();
  for (const name of VIEWER_PAGES) {
    const template = fs.readFileSync(path.join(root, `player/${name}.html`), 'utf8');
    for (const language of LANGUAGES) rendered.set(`${name}/${language}`, renderPage(template, language));
  }
  const messages = new Map(LANGUAGES.map((l) => [l, JSON.stringify(browserMessages(l))]));
  const router = Router();

  const send = (res: Response, page: ViewerPage, language: Language, headers: Record<string, string> = {}) =>
    void res
      .type('html')
      // The same URL answers in several languages: caches must key on the header that chose.
      .set({ 'Content-Language': language, Vary: 'Accept-Language', ...headers })
      .send(rendered.get(`${page}/${language}`));

  router.get('/join', deps.framed, (req, res) => send(res, 'join', viewerLanguage(req)));

  router.get('/w/:webinarId', deps.framed, async (req, res) => {
    const typed = String(req.params.webinarId);
    const digits = typed.replace(/[\s-]/g, '');
    // Canonical page URL is the bare digits; typed forms with dashes redirect there.
    if (digits !== typed && /^\d{9}$/.test(digits)) return void res.redirect(301, `/w/${digits}`);
    const webinarId = parseWebinarId(digits);
    // An unknown ID still gets the page (its script says "not found", in the browser's language).
    const event = webinarId ? await findEventByWebinarId(deps.db, webinarId) : undefined;
    send(res, 'event', viewerLanguage(req, event));
  });

  router.get('/me/:token', deps.unframed, async (req, res) => {
    const link = openBound('me', String(req.params.token), deps.secret, Math.floor(now() / 1000));
    const event = link ? await findEvent(deps.db, link.eventId) : undefined;
    const owned = event && event.account_id === link?.accountId ? event : undefined;
    send(res, 'me', viewerLanguage(req, owned), {
      'Cache-Control': 'no-store',
      'Referrer-Policy': 'no-referrer',
    });
  });

  router.get('/play/:assetId', deps.framed, (req, res) => send(res, 'play', viewerLanguage(req)));

  router.get('/player/messages/:file', (req, res) => {
    const language = String(req.params.file).replace(/\.json$/, '');
    if (!isLanguage(language)) return void res.sendStatus(404);
    res.type('json').set('Cache-Control', 'public, max-age=300').send(messages.get(language));
  });

  return router;
}
