import type { MessageKey } from '../src/i18n/catalogues/en.ts';
import { dateLocale, formatDateTime, type DateStyle } from '../src/i18n/dates.ts';
import { createTranslator, type Translator } from '../src/i18n/format.ts';
import { DEFAULT_LANGUAGE, isLanguage, type Language } from '../src/i18n/languages.ts';

/**
 * The page's words in the viewer's language. The server renders each page in it (the static text,
 * and `<html lang>`, which is where this code learns it) and serves that language's messages at
 * `/player/messages/<language>.json`, so a page loads one language, not all eight.
 */
export interface PageText extends Translator<MessageKey> {
  readonly language: Language;
  /** A time in the viewer's own zone, in the page's language. */
  date(ms: number, style: DateStyle): string;
}

export function pageLanguage(): Language {
  const lang = document.documentElement.lang;
  return isLanguage(lang) ? lang : DEFAULT_LANGUAGE;
}

export async function loadPageText(): Promise<PageText> {
  const language = pageLanguage();
  let messages: Partial<Record<MessageKey, string>> = {};
  try {
    const response = await fetch(`/player/messages/${language}.json`);
    if (response.ok) messages = (await response.json()) as Partial<Record<MessageKey, string>>;
  } catch {
    // Offline or blocked: the page shows message keys rather than nothing.
  }
  const translator = createTranslator<MessageKey>(language, messages);
  const locale = dateLocale(language, navigator.languages);
  return {
    ...translator,
    language,
    date: (ms, style) => formatDateTime(ms, locale, style),
  };
}
