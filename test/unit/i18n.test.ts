import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeAccessMail, composeSessionMail } from '../../src/automated/emails.ts';
import { sessionInvite } from '../../src/automated/ics.ts';
import { dateLocale, formatDateTime, mailLocale } from '../../src/i18n/dates.ts';
import { formatMessage, formatToParts, placeholdersOf, pluralKeysOf } from '../../src/i18n/format.ts';
import { LANGUAGES, negotiateLanguage } from '../../src/i18n/languages.ts';
import {
  BROWSER_NAMESPACES,
  browserMessages,
  CATALOGUES,
  translator,
  type MessageKey,
} from '../../src/i18n/messages.ts';
import { renderPage, VIEWER_PAGES } from '../../src/http/viewer-pages.ts';

const root = path.resolve(import.meta.dirname, '../..');
const en = CATALOGUES.en;
const keys = Object.keys(en).sort() as MessageKey[];

/** A value for every placeholder name the catalogues use. */
const SAMPLE: Record<string, unknown> = {
  id: '123-456-789',
  link: 'privacy notice',
  version: '3',
  when: 'Tuesday 1 December 2026 at 10:00 CET',
  days: 2,
  clock: '01:02:03',
  current: '1:00',
  total: '2:00',
  kbps: '1500',
  option: 'Yes',
  percent: 40,
  title: 'Launch',
  person: 'Ada <ada@example.com>',
  marketing: 'yes',
  label: 'Join here',
  url: 'https://example.com/w/123456789?k=x',
  count: 3,
};

/** The plural categories a language needs for whole numbers (0..1000): each plural must have them. */
function integerCategories(language: string): Set<string> {
  const rules = new Intl.PluralRules(language);
  const found = new Set<string>();
  for (let n = 0; n <= 1000; n++) found.add(rules.select(n));
  return found;
}

describe('catalogues (the CI check of every translation)', () => {
  it('there are eight: en, it, de, fr, es, pl, pt-BR, ru', () => {
    expect(Object.keys(CATALOGUES)).toEqual([...LANGUAGES]);
    expect([...LANGUAGES]).toEqual(['en', 'it', 'de', 'fr', 'es', 'pl', 'pt-BR', 'ru']);
  });

  for (const language of LANGUAGES) {
    describe(language, () => {
      const catalogue = CATALOGUES[language];

      it('has exactly the keys of en', () => {
        expect(Object.keys(catalogue).sort()).toEqual(keys);
      });

      it('every message parses, uses the placeholders of en, and formats sample values', () => {
        for (const key of keys) {
          const message = catalogue[key];
          expect(message, key).toBeTypeOf('string');
          expect(message.trim(), key).not.toBe('');
          expect([...placeholdersOf(message)].sort(), `${language} ${key}`).toEqual(
            [...placeholdersOf(en[key])].sort(),
          );
          const text = formatMessage(language, message, SAMPLE);
          expect(text, `${language} ${key}`).not.toMatch(/[{}]/);
          for (const count of [0, 1, 2, 5, 22, 1.5]) {
            expect(() => formatMessage(language, message, { ...SAMPLE, count, days: count })).not.toThrow();
          }
        }
      });

      it("every plural has the forms the language's whole numbers need", () => {
        const needed = integerCategories(language);
        for (const key of keys) {
          for (const plural of pluralKeysOf(catalogue[key])) {
            for (const category of [...needed, 'other']) {
              expect(plural.keys, `${language} ${key}: ${category}`).toContain(category);
            }
          }
        }
      });

      it('is a translation, not a copy of English (product names and formats aside)', () => {
        if (language === 'en') return;
        const same = keys.filter((k) => catalogue[k] === en[k]);
        // Words that are the same in both (Webinar, Chat, Pause, Volume, "{label}: {url}"...).
        expect(same.length, same.join(', ')).toBeLessThan(keys.length / 10);
      });
    });
  }

  it('page templates name only keys of the catalogues', () => {
    for (const page of VIEWER_PAGES) {
      const template = fs.readFileSync(path.join(root, `player/${page}.html`), 'utf8');
      const used = [...template.matchAll(/\{\{([A-Za-z0-9.]+)\}\}/g)].map((m) => m[1]!);
      expect(used.length, page).toBeGreaterThan(1);
      for (const key of used) if (key !== 'lang') expect(keys, `${page}: ${key}`).toContain(key);
      expect(template, page).toContain('<html lang="{{lang}}">');
    }
  });

  it("the pages' scripts use only keys the browser is sent", () => {
    const sent = Object.keys(browserMessages('en'));
    for (const file of fs.readdirSync(path.join(root, 'player'))) {
      if (!file.endsWith('.ts') || file.startsWith('admin')) continue;
      const code = fs.readFileSync(path.join(root, 'player', file), 'utf8');
      for (const m of code.matchAll(/'([a-z]+\.[A-Za-z.]+)'/g)) {
        const key = m[1]!;
        if (!(BROWSER_NAMESPACES as readonly string[]).includes(key.split('.')[0]!)) continue;
        expect(sent, `${file}: ${key}`).toContain(key);
      }
    }
    expect(sent).not.toContain('mail.line');
    expect(sent).not.toContain('errors.email');
  });

  it('renders a page in a language, escaped, with its lang', () => {
    const html = renderPage('<html lang="{{lang}}"><h1>{{join.title}}</h1><p>{{me.restrictHint}}</p>', 'it');
    expect(html).toBe(
      '<html lang="it"><h1>Partecipa a un webinar</h1><p>Con la limitazione la tua iscrizione resta valida (puoi continuare a guardare), ma i tuoi dati restano fuori dal marketing e dalle statistiche di visione dell&#39;organizzatore finché non la rimuovi.</p>',
    );
  });
});

describe('message format', () => {
  it('placeholders, plurals with #, exact matches, offsets, select', () => {
    expect(formatMessage('en', 'Hi {name}!', { name: 'Ada' })).toBe('Hi Ada!');
    const files = '{n, plural, =0 {no files} one {# file} other {# files}}';
    expect(formatMessage('en', files, { n: 0 })).toBe('no files');
    expect(formatMessage('en', files, { n: 1 })).toBe('1 file');
    expect(formatMessage('en', files, { n: 1200 })).toBe('1,200 files');
    const hours = '{n, plural, one {# godzinę} few {# godziny} many {# godzin} other {# godziny}}';
    expect([1, 2, 5, 22, 25, 1.5].map((n) => formatMessage('pl', hours, { n }))).toEqual([
      '1 godzinę',
      '2 godziny',
      '5 godzin',
      '22 godziny',
      '25 godzin',
      '1,5 godziny',
    ]);
    const days = '{n, plural, one {# день} few {# дня} many {# дней} other {# дня}}';
    expect([1, 3, 11, 21].map((n) => formatMessage('ru', days, { n }))).toEqual([
      '1 день',
      '3 дня',
      '11 дней',
      '21 день',
    ]);
    expect(
      formatMessage('en', '{n, plural, offset:1 =0 {nobody} one {you} other {you and # others}}', { n: 3 }),
    ).toBe('you and 2 others');
    expect(formatMessage('en', '{x, select, yes {sure} other {no}}', { x: 'yes' })).toBe('sure');
    expect(formatMessage('en', '{x, select, yes {sure} other {no}}', { x: 'maybe' })).toBe('no');
    expect(formatMessage('en', 'n={n, number}', { n: 1234.5 })).toBe('n=1,234.5');
  });

  it('apostrophes: ICU quoting only before braces; ordinary apostrophes stay', () => {
    expect(formatMessage('en', "You're in, it's {x}", { x: 'ok' })).toBe("You're in, it's ok");
    expect(formatMessage('en', "'{literal}' and '''{x}'''", { x: 1 })).toBe("{literal} and '{x}'");
    expect(formatMessage('fr', "l''{x}", { x: 'ami' })).toBe("l'ami");
  });

  it('values are data: braces in a title are not parsed; a missing value shows its name', () => {
    expect(formatMessage('en', 'Title: {title}', { title: '{evil, plural, other {#}}' })).toBe(
      'Title: {evil, plural, other {#}}',
    );
    expect(formatMessage('en', 'Hi {name}')).toBe('Hi {name}');
  });

  it('parts keep non-text values (a link inside a sentence)', () => {
    const link = { tag: 'a' };
    expect(formatToParts('en', 'Read our {link} (version {v}).', { link, v: '3' })).toEqual([
      'Read our ',
      link,
      ' (version 3).',
    ]);
  });

  it('malformed messages are refused', () => {
    for (const bad of [
      '{',
      '{x',
      'a}',
      '{x, plural, one {a}}',
      '{x, frob}',
      '{1x}',
      '{x, plural, lots {a} other {b}}',
    ]) {
      expect(() => formatMessage('en', bad), bad).toThrow(SyntaxError);
    }
  });
});

describe('Accept-Language negotiation', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'en'],
    ['', 'en'],
    ['*', 'en'],
    ['de-DE,de;q=0.9,en;q=0.5', 'de'],
    ['en;q=0.5, it;q=0.8', 'it'],
    ['fr-CA', 'fr'],
    ['pt', 'pt-BR'],
    ['pt-PT,pt;q=0.9', 'pt-BR'],
    ['pt-br', 'pt-BR'],
    ['ja, zh;q=0.9', 'en'],
    ['ja, ru;q=0.1', 'ru'],
    ['PL', 'pl'],
    ['es-419,es;q=0.9', 'es'],
    ['de;q=0, en;q=0.1', 'en'],
    ['de;q=0, *', 'en'],
    ['en;q=0, *;q=0.5', 'it'],
    ['de-CH;q=0, de;q=0.4', 'de'],
    ['it;q=2, fr', 'fr'],
    ['it;q=abc, ru;q=0.3', 'ru'],
    ['en-US,en;q=0.9', 'en'],
    ['x-klingon, ru', 'ru'],
    ['<script>, it', 'it'],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} -> ${expected}`, () => expect(negotiateLanguage(header)).toBe(expected));
  }

  it('ignores absurdly long headers and looks at a bounded number of ranges', () => {
    expect(negotiateLanguage(`${'x-a,'.repeat(400)}it`)).toBe('en');
    expect(negotiateLanguage(`${'ja,'.repeat(40)}it`)).toBe('en');
    expect(negotiateLanguage(`${'ja,'.repeat(10)}it`)).toBe('it');
  });
});

describe('dates and times for the locale and the zone', () => {
  const start = Date.parse('2026-12-01T09:00:00Z');

  it('Italian in Europe/Rome: martedì 1 dicembre 2026, 10:00', () => {
    const text = formatDateTime(start, 'it', 'mail', 'Europe/Rome');
    expect(text).toMatch(/^martedì 1 dicembre 2026/);
    expect(text).toContain('10:00');
  });

  it('each language in its own words, in the zone asked for', () => {
    expect(formatDateTime(start, 'de', 'mail', 'Europe/Berlin')).toMatch(/^Dienstag, 1\. Dezember 2026/);
    expect(formatDateTime(start, 'fr', 'mail', 'Europe/Paris')).toMatch(/^mardi 1 décembre 2026/);
    expect(formatDateTime(start, 'es', 'mail', 'Europe/Madrid')).toMatch(/^martes, 1 de diciembre de 2026/);
    expect(formatDateTime(start, 'pl', 'mail', 'Europe/Warsaw')).toMatch(/^wtorek, 1 grudnia 2026/);
    expect(formatDateTime(start, 'pt-BR', 'mail', 'America/Sao_Paulo')).toMatch(
      /^terça-feira, 1 de dezembro de 2026.*06:00/,
    );
    expect(formatDateTime(start, 'ru', 'mail', 'Europe/Moscow')).toMatch(/^вторник, 1 декабря 2026.*12:00/);
    expect(formatDateTime(start, mailLocale('en'), 'mail', 'America/New_York')).toMatch(
      /^Tuesday,? 1 December 2026.*04:00/,
    );
  });

  it("pages use the browser's own variant of the page's language, else the page's language", () => {
    expect(dateLocale('en', ['en-GB', 'en'])).toBe('en-GB');
    expect(dateLocale('de', ['de-AT'])).toBe('de-AT');
    expect(dateLocale('it', ['en-US', 'en'])).toBe('it');
    expect(dateLocale('pt-BR', ['pt-PT'])).toBe('pt-PT');
    expect(dateLocale('fr', [])).toBe('fr');
  });
});

describe('emails and invites in the registrant language', () => {
  const fields = {
    title: 'Launch',
    startMs: Date.parse('2026-12-01T09:00:00Z'),
    timezone: 'Europe/Rome',
    joinUrl: 'https://x/w/1?k=t',
    selfServiceUrl: 'https://x/me/t',
    unsubscribeUrl: 'https://x/u/t',
    replayDays: 2,
  };

  it('English stays as it was', () => {
    const confirmation = composeSessionMail({ ...fields, kind: 'confirmation' });
    expect(confirmation.subject).toBe("You're registered: Launch");
    expect(confirmation.text).toMatch(
      /^You're registered for "Launch" on Tuesday,? 1 December 2026 at 10:00/,
    );
    expect(confirmation.text).toContain('Your personal join link: https://x/w/1?k=t');
    expect(confirmation.text).toContain('Stop these emails: https://x/u/t');
    const subject = (offsetSeconds: number) =>
      composeSessionMail({ ...fields, kind: 'reminder', offsetSeconds }).subject;
    expect([86_400, 172_800, 3600, 7200, 600, 60, 8, 1].map(subject)).toEqual([
      'Starting in 24 hours: Launch',
      'Starting in 2 days: Launch',
      'Starting in 1 hour: Launch',
      'Starting in 2 hours: Launch',
      'Starting in 10 minutes: Launch',
      'Starting in 1 minute: Launch',
      'Starting in 8 seconds: Launch',
      'Starting in 1 second: Launch',
    ]);
    expect(composeSessionMail({ ...fields, kind: 'missed' }).text).toContain('for the next 2 days.');
    expect(composeAccessMail({ ...fields, reason: 'again' }).subject).toBe('Your link to watch: Launch');
  });

  it('Italian: subject, body, date and plural forms', () => {
    const mail = composeSessionMail({ ...fields, kind: 'confirmation', language: 'it' });
    expect(mail.subject).toBe('Iscrizione confermata: Launch');
    expect(mail.text).toContain('La tua iscrizione a «Launch» è confermata: martedì 1 dicembre 2026');
    expect(mail.html).toContain('<html lang="it">');
    expect(mail.html).toContain('Il tuo link personale per partecipare');
    expect(
      composeSessionMail({ ...fields, kind: 'reminder', offsetSeconds: 3600, language: 'it' }).subject,
    ).toBe('Si comincia tra 1 ora: Launch');
    expect(composeSessionMail({ ...fields, kind: 'missed', language: 'it' }).text).toContain(
      'per i prossimi 2 giorni',
    );
  });

  it('Polish and Russian reminders decline the unit', () => {
    const subject = (language: 'pl' | 'ru', offsetSeconds: number) =>
      composeSessionMail({ ...fields, kind: 'reminder', offsetSeconds, language }).subject;
    expect([1, 2, 5].map((h) => subject('pl', h * 3600))).toEqual([
      'Start za 1 godzinę: Launch',
      'Start za 2 godziny: Launch',
      'Start za 5 godzin: Launch',
    ]);
    expect([60, 180, 300].map((s) => subject('ru', s))).toEqual([
      'Начало через 1 минуту: Launch',
      'Начало через 3 минуты: Launch',
      'Начало через 5 минут: Launch',
    ]);
  });

  it('the time is shown in the zone given (the registrant browser)', () => {
    const mail = composeSessionMail({
      ...fields,
      kind: 'reminder',
      offsetSeconds: 60,
      timezone: 'Asia/Tokyo',
    });
    expect(mail.text).toContain('18:00');
  });

  it('the invite says "Join" in the language; its times stay in the event zone', () => {
    const invite = (language?: 'de') =>
      sessionInvite({
        uid: 'u@onair',
        title: 'Launch',
        description: 'About',
        url: 'https://x/w/1?k=t',
        startMs: fields.startMs,
        endMs: fields.startMs + 3600_000,
        timezone: 'Europe/Rome',
        organizerName: 'onair',
        organizerEmail: 'w@example.com',
        sequence: 1,
        stampMs: fields.startMs,
        ...(language ? { language } : {}),
      });
    expect(invite()).toContain('DESCRIPTION:About\\n\\nJoin: https://x/w/1?k=t');
    expect(invite('de')).toContain('DESCRIPTION:About\\n\\nTeilnehmen: https://x/w/1?k=t');
    expect(invite('de')).toContain('DTSTART;TZID=Europe/Rome:20261201T100000');
  });

  it('server translators are cached per language', () => {
    expect(translator('fr')).toBe(translator('fr'));
    expect(translator('fr').t('mail.line', { label: 'Lien', url: 'u' })).toBe('Lien : u');
  });
});
