/**
 * The languages of the viewer pages, emails and invites, and how a request picks one. Browser-safe
 * (no Node imports): the pages' code uses it too.
 */
export const LANGUAGES = ['en', 'it', 'de', 'fr', 'es', 'pl', 'pt-BR', 'ru'] as const;
export type Language = (typeof LANGUAGES)[number];

/** An event's setting: one language for everyone, or `auto` (each viewer's browser decides). */
export const LANGUAGE_SETTINGS = ['auto', ...LANGUAGES] as const;
export type LanguageSetting = (typeof LANGUAGE_SETTINGS)[number];

export const DEFAULT_LANGUAGE: Language = 'en';

export function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);
}

/** Longer headers are not parsed (browsers send well under 200 characters). */
const MAX_HEADER_LENGTH = 1024;
/** At most this many language ranges are looked at. */
const MAX_RANGES = 32;
/** A language range (RFC 4647 2.1): `*`, or 1-8 letters with 1-8 alphanumeric subtags. */
const RANGE = /^(?:\*|[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,7})$/;
/** A quality value (RFC 9110 12.4.2): 0 to 1 with at most three decimals. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** The supported language a range names: `pt`, `pt-PT` and any Portuguese get `pt-BR`. */
function supportedFor(range: string): Language | undefined {
  const lower = range.toLowerCase();
  const exact = LANGUAGES.find((l) => l.toLowerCase() === lower);
  if (exact) return exact;
  const primary = lower.split('-')[0]!;
  if (primary === 'pt') return 'pt-BR';
  return LANGUAGES.find((l) => l === primary);
}

/** The supported language a q=0 range rules out: it names the language itself, not a variant. */
function refusedBy(range: string): Language | undefined {
  const language = supportedFor(range);
  const lower = range.toLowerCase();
  return language && [language.toLowerCase(), language.split('-')[0]].includes(lower) ? language : undefined;
}

/**
 * The best supported language for an `Accept-Language` header (RFC 9110 12.5.4): ranges by
 * quality, the header's order breaking ties; a range with q=0 rules its language out; `*` takes
 * the first supported language not ruled out. Anything unparseable, or nothing supported: `en`.
 */
export function negotiateLanguage(header: string | null | undefined): Language {
  if (!header || header.length > MAX_HEADER_LENGTH) return DEFAULT_LANGUAGE;
  const ranges: { range: string; q: number; order: number }[] = [];
  for (const [order, item] of header.split(',').slice(0, MAX_RANGES).entries()) {
    const [range = '', ...params] = item.split(';').map((p) => p.trim());
    if (!RANGE.test(range)) continue;
    let q = 1;
    let valid = true;
    for (const param of params) {
      const [name, value = ''] = param.split('=').map((p) => p.trim());
      if (name?.toLowerCase() !== 'q') continue;
      if (!QVALUE.test(value)) valid = false;
      else q = Number(value);
    }
    if (valid) ranges.push({ range, q, order });
  }
  // `de;q=0` rules German out; `de-CH;q=0` only Swiss German, which onair does not tell apart.
  const refused = new Set(ranges.filter((r) => r.q === 0).map((r) => refusedBy(r.range)));
  const wanted = ranges.filter((r) => r.q > 0).sort((a, b) => b.q - a.q || a.order - b.order);
  for (const { range } of wanted) {
    if (range === '*') return LANGUAGES.find((l) => !refused.has(l)) ?? DEFAULT_LANGUAGE;
    const language = supportedFor(range);
    if (language && !refused.has(language)) return language;
  }
  return DEFAULT_LANGUAGE;
}
