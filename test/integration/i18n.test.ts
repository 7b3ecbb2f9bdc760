import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDateTime } from '../../src/i18n/dates.ts';
import { apiCall, until } from '../helpers/api.ts';
import { makeSource } from '../helpers/media.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startSmtpServer, type ReceivedMail } from '../helpers/smtp.ts';

let server: TestServer;
let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
let work: string;
let assetId: string;

const GATE = {
  emailRequired: true,
  fields: { name: 'optional', company: 'off' },
  privacyNoticeUrl: 'https://example.com/privacy',
  privacyNoticeVersion: '1',
};
const GERMAN_BROWSER = 'de-DE,de;q=0.9,en;q=0.5';

interface EventJson {
  id: string;
  webinarId: string;
  language: string;
  error?: { message: string };
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'onair-i18n-'));
  smtp = await startSmtpServer();
  server = await startTestServer({
    SMTP_URL: smtp.url,
    MAIL_FROM: 'Webinars <webinars@example.com>',
    REGISTER_RATE_PER_MINUTE: '50',
  });
  const source = await makeSource(path.join(work, 'talk.mp4'), { width: 640, height: 360, seconds: 6 });
  const ready = await server.client.waitForAsset(
    (await server.client.upload(source, 'talk')).id,
    undefined,
    200,
  );
  expect(ready.status, ready.error ?? '').toBe('ready');
  assetId = ready.id;
}, 180_000);

afterAll(async () => {
  await server?.close();
  await smtp?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

const api = <T = EventJson>(method: string, url: string, body?: unknown) =>
  apiCall<T>(server, method, url, body);

async function createEvent(extra: Record<string, unknown>): Promise<EventJson> {
  const { status, json } = await api('POST', '/api/events', {
    title: 'Crescita 2027',
    type: 'on_demand',
    assetId,
    gate: GATE,
    ...extra,
  });
  expect(status, JSON.stringify(json)).toBe(201);
  return json;
}

const digits = (e: EventJson) => e.webinarId.replace(/-/g, '');

async function page(route: string, acceptLanguage?: string) {
  const response = await fetch(`${server.url}${route}`, {
    headers: acceptLanguage ? { 'accept-language': acceptLanguage } : {},
  });
  return { status: response.status, headers: response.headers, html: await response.text() };
}

async function post(event: EventJson, route: string, body: unknown, acceptLanguage?: string) {
  const response = await fetch(`${server.url}/w/${digits(event)}${route}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(acceptLanguage ? { 'accept-language': acceptLanguage } : {}),
    },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    json: (await response.json()) as {
      language?: string;
      state?: string;
      error?: { message: string; details?: { field: string; message: string }[] };
    },
  };
}

const mailsTo = (to: string) => smtp.mails.filter((m: ReceivedMail) => m.to === to);

describe('the language setting of an event', () => {
  it('defaults to auto, is set on create and PATCH, and a bad code is refused naming the allowed ones', async () => {
    const auto = await createEvent({});
    expect(auto.language).toBe('auto');
    const italian = await createEvent({ language: 'it' });
    expect(italian.language).toBe('it');
    expect((await api('GET', `/api/events/${italian.id}`)).json.language).toBe('it');
    const patched = await api('PATCH', `/api/events/${italian.id}`, { language: 'pt-BR' });
    expect(patched.status).toBe(200);
    expect(patched.json.language).toBe('pt-BR');
    for (const bad of ['pt', 'xx', 'EN', 42, null]) {
      const refused = await api('PATCH', `/api/events/${italian.id}`, { language: bad });
      expect(refused.status, String(bad)).toBe(400);
      expect(refused.json.error?.message).toBe(
        'Invalid body: language must be one of auto, en, it, de, fr, es, pl, pt-BR, ru',
      );
    }
    expect((await api('POST', '/api/events', { title: 'x', type: 'live', language: 'klingon' })).status).toBe(
      400,
    );
    expect((await api('GET', `/api/events/${italian.id}`)).json.language).toBe('pt-BR');
  });
});

describe('viewer pages', () => {
  it('an Italian event: the page, its messages, info.json and the gate errors are Italian, whatever the browser', async () => {
    const event = await createEvent({ language: 'it' });
    const html = await page(`/w/${digits(event)}`, GERMAN_BROWSER);
    expect(html.status).toBe(200);
    expect(html.html).toContain('<html lang="it">');
    expect(html.html).toContain('Registrati per guardare');
    expect(html.html).toContain('Sì, inviatemi novità e offerte via email.');
    expect(html.html).not.toContain('Register to watch');
    expect(html.headers.get('content-language')).toBe('it');
    // What the page's script loads for its own words (in the language of <html lang>).
    const messages = (await (await fetch(`${server.url}/player/messages/it.json`)).json()) as Record<
      string,
      string
    >;
    expect(messages['state.gated']).toBe('Inserisci la tua email per guardare.');
    expect(messages['player.play']).toBe('Riproduci');
    expect(messages['mail.line']).toBeUndefined();
    expect((await fetch(`${server.url}/player/messages/xx.json`)).status).toBe(404);

    const info = (await (await fetch(`${server.url}/w/${digits(event)}/info.json`)).json()) as {
      language: string;
      state: string;
    };
    expect(info).toMatchObject({ language: 'it', state: 'gated' });

    const bad = await post(event, '/register', { email: 'not-an-email', noticeVersion: '1' });
    expect(bad.status).toBe(400);
    expect(bad.json.error?.details?.[0]).toEqual({
      field: 'email',
      message: 'Inserisci un indirizzo email valido, ad esempio nome@example.com',
    });
    const stale = await post(event, '/register', { email: 'ugo@example.com', noticeVersion: '0' });
    expect(stale.json.error?.message).toBe(
      "L'informativa sulla privacy è cambiata: ricarica la pagina per leggerla",
    );

    // Registering: the access mail is Italian too.
    const ok = await post(event, '/register', { email: 'ugo@example.com', noticeVersion: '1' }, 'en-US');
    expect(ok.status).toBe(201);
    expect(ok.json.language).toBe('it');
    const mail = await until('the access mail', () => mailsTo('ugo@example.com')[0]);
    expect(mail.parsed.subject).toBe('Iscrizione confermata: Crescita 2027');
    expect(mail.parsed.text).toContain('Il tuo link personale: http');
  });

  it('an auto event follows Accept-Language: German for de-DE,de;q=0.9,en;q=0.5; English otherwise', async () => {
    const event = await createEvent({});
    const german = await page(`/w/${digits(event)}`, GERMAN_BROWSER);
    expect(german.html).toContain('<html lang="de">');
    expect(german.html).toContain('Zum Ansehen anmelden');
    expect(german.headers.get('vary')).toMatch(/accept-language/i);
    const english = await page(`/w/${digits(event)}`);
    expect(english.html).toContain('<html lang="en">');
    expect(english.html).toContain('Register to watch');
    expect((await page(`/w/${digits(event)}`, 'pt-PT,pt;q=0.9')).html).toContain('<html lang="pt-BR">');
    expect((await page(`/w/${digits(event)}`, 'ja')).html).toContain('<html lang="en">');
    const info = await fetch(`${server.url}/w/${digits(event)}/info.json`, {
      headers: { 'accept-language': GERMAN_BROWSER },
    });
    expect(((await info.json()) as { language: string }).language).toBe('de');
    const bad = await post(event, '/register', { email: 'nope', noticeVersion: '1' }, GERMAN_BROWSER);
    expect(bad.json.error?.message).toBe(
      'Geben Sie eine gültige E-Mail-Adresse ein, zum Beispiel name@example.com',
    );
    // In English, the API's wording as before.
    const englishError = await post(event, '/register', { email: 'nope', noticeVersion: '1' });
    expect(englishError.json.error?.message).toBe(
      'Invalid registration: email Enter a valid email address, like name@example.com',
    );
  });

  it('/join and /play follow the browser; unknown webinar IDs still get a page', async () => {
    const join = await page('/join', 'fr-CH, fr;q=0.9');
    expect(join.html).toContain('<html lang="fr">');
    expect(join.html).toContain('<h1>Rejoindre un webinar</h1>');
    expect((await page('/join')).html).toContain('<h1>Join a webinar</h1>');
    const unknown = await page('/w/999999999', 'ru');
    expect(unknown.status).toBe(200);
    expect(unknown.html).toContain('<html lang="ru">');
    expect((await page(`/play/${assetId}`, 'es')).html).toContain('<html lang="es">');
  });
});

describe('emails and invites', () => {
  /** An automated webinar in three days, at a whole hour, planned in Rome. */
  async function automated(language?: string) {
    const start = Math.ceil((Date.now() + 3 * 86_400_000) / 3600_000) * 3600_000;
    const event = await createEvent({
      type: 'automated',
      schedule: { kind: 'once', timezone: 'Europe/Rome', startsAt: new Date(start).toISOString() },
      ...(language ? { language } : {}),
    });
    return { event, start };
  }

  it('an Italian event: the confirmation, its Italian date and the .ics are Italian; so are the data and unsubscribe pages', async () => {
    const { event, start } = await automated('it');
    const registered = await post(
      event,
      '/register',
      { email: 'lucia@example.com', noticeVersion: '1', sessionAt: new Date(start).toISOString() },
      GERMAN_BROWSER,
    );
    expect(registered.status, JSON.stringify(registered.json)).toBe(201);
    const mail = await until('the confirmation', () => mailsTo('lucia@example.com')[0]);
    expect(mail.parsed.subject).toBe('Iscrizione confermata: Crescita 2027');
    const when = formatDateTime(start, 'it', 'mail', 'Europe/Rome');
    expect(when).toMatch(
      /^(lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica) \d{1,2} (gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre) \d{4}/,
    );
    expect(mail.parsed.text).toContain(`La tua iscrizione a «Crescita 2027» è confermata: ${when}.`);
    expect(mail.parsed.text).toContain("In allegato trovi l'invito per il calendario.");
    expect(mail.parsed.text).toMatch(/Il tuo link personale per partecipare: http:\/\/\S+\/w\/\d{9}\?k=/);
    expect(mail.parsed.text).toMatch(/Non ricevere più queste email: http/);
    expect(String(mail.parsed.html)).toContain('<html lang="it">');

    const ics = mail.parsed.attachments.find((a) => a.contentType.startsWith('text/calendar'));
    expect(ics).toBeDefined();
    const calendar = new ICAL.Component(ICAL.parse(ics!.content.toString('utf8')) as unknown[]);
    const vevent = new ICAL.Event(calendar.getFirstSubcomponent('vevent')!);
    expect(vevent.summary).toBe('Crescita 2027');
    expect(vevent.description).toMatch(/^Partecipa: http:\/\/\S+\/w\/\d{9}\?k=/);

    // The personal pages the mail links to speak Italian as well.
    const me = /(http:\/\/\S+\/me\/\S+)/.exec(mail.parsed.text ?? '')![1]!;
    const mePage = await page(new URL(me).pathname, GERMAN_BROWSER);
    expect(mePage.html).toContain('<html lang="it">');
    expect(mePage.html).toContain('<h1>I tuoi dati</h1>');
    const unsubscribe = /Non ricevere più queste email: (http\S+)/.exec(mail.parsed.text ?? '')![1]!;
    const unsubscribePage = await page(new URL(unsubscribe).pathname);
    expect(unsubscribePage.html).toContain('<html lang="it">');
    expect(unsubscribePage.html).toContain('Interrompi le email');
  });

  it("an auto event: the registrant's browser language, and the time in the zone it reported", async () => {
    const { event, start } = await automated();
    const registered = await post(
      event,
      '/register',
      {
        email: 'jonas@example.com',
        noticeVersion: '1',
        sessionAt: new Date(start).toISOString(),
        timeZone: 'America/New_York',
      },
      GERMAN_BROWSER,
    );
    expect(registered.status, JSON.stringify(registered.json)).toBe(201);
    const mail = await until('the confirmation', () => mailsTo('jonas@example.com')[0]);
    expect(mail.parsed.subject).toBe('Anmeldung bestätigt: Crescita 2027');
    expect(mail.parsed.text).toContain(
      `Sie sind für „Crescita 2027“ am ${formatDateTime(start, 'de', 'mail', 'America/New_York')} angemeldet.`,
    );
    const ics = mail.parsed.attachments.find((a) => a.contentType.startsWith('text/calendar'))!;
    const text = ics.content.toString('utf8');
    expect(text).toContain('Teilnehmen: http');
    // The invite itself stays in the event's zone (calendars convert).
    expect(text).toContain('DTSTART;TZID=Europe/Rome:');

    // A zone this server does not know is ignored (the event's zone is used), never refused;
    // an unbounded one is refused.
    const odd = await post(
      event,
      '/register',
      {
        email: 'odd@example.com',
        noticeVersion: '1',
        sessionAt: new Date(start).toISOString(),
        timeZone: 'Mars/Olympus_Mons',
      },
      'pl',
    );
    expect(odd.status).toBe(201);
    const polish = await until('the Polish confirmation', () => mailsTo('odd@example.com')[0]);
    expect(polish.parsed.subject).toBe('Potwierdzenie rejestracji: Crescita 2027');
    expect(polish.parsed.text).toContain(formatDateTime(start, 'pl', 'mail', 'Europe/Rome'));
    const long = await post(event, '/register', {
      email: 'long@example.com',
      noticeVersion: '1',
      sessionAt: new Date(start).toISOString(),
      timeZone: 'A'.repeat(65),
    });
    expect(long.status).toBe(400);
  });
});
