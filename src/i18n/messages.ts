/**
 * Every catalogue, for the server: emails, invites, server-rendered pages and the error messages
 * viewers read. The browser never imports this module (it would bundle all eight languages): a
 * page gets its own language's page messages from `/player/messages/<language>.json`.
 */
import { de } from './catalogues/de.ts';
import { en, type Catalogue, type MessageKey } from './catalogues/en.ts';
import { es } from './catalogues/es.ts';
import { fr } from './catalogues/fr.ts';
import { it } from './catalogues/it.ts';
import { pl } from './catalogues/pl.ts';
import { ptBR } from './catalogues/pt-BR.ts';
import { ru } from './catalogues/ru.ts';
import { createTranslator, type Translator } from './format.ts';
import type { Language } from './languages.ts';

export type { Catalogue, MessageKey } from './catalogues/en.ts';

export const CATALOGUES: Readonly<Record<Language, Catalogue>> = {
  en,
  it,
  de,
  fr,
  es,
  pl,
  'pt-BR': ptBR,
  ru,
};

/** Key prefixes of the messages the pages' own code shows (the rest stay on the server). */
export const BROWSER_NAMESPACES = [
  'common',
  'join',
  'event',
  'gate',
  'waiting',
  'sessions',
  'state',
  'player',
  'interactions',
  'me',
  'play',
] as const;

export type ServerTranslator = Translator<MessageKey> & { readonly language: Language };

const translators = new Map<Language, ServerTranslator>();

export function translator(language: Language): ServerTranslator {
  let found = translators.get(language);
  if (!found) {
    found = { ...createTranslator<MessageKey>(language, CATALOGUES[language]), language };
    translators.set(language, found);
  }
  return found;
}

/** The page messages of one language, for the browser. */
export function browserMessages(language: Language): Partial<Catalogue> {
  const catalogue = CATALOGUES[language];
  return Object.fromEntries(
    Object.entries(catalogue).filter(([key]) =>
      (BROWSER_NAMESPACES as readonly string[]).includes(key.split('.')[0]!),
    ),
  );
}
