import type { Request } from 'express';
import { isLanguage, negotiateLanguage, type Language } from '../i18n/languages.ts';
import { translator, type ServerTranslator } from '../i18n/messages.ts';

/**
 * The language a viewer reads: the event's, when it sets one; else the one their browser asks for
 * (`Accept-Language`; `auto` events, and pages of no event such as /join).
 */
export function viewerLanguage(req: Request, event?: { readonly language: string }): Language {
  return event && isLanguage(event.language) ? event.language : negotiateLanguage(req.get('accept-language'));
}

/** The viewer's language's messages (error messages the pages show, server-rendered pages). */
export function viewerTranslator(req: Request, event?: { readonly language: string }): ServerTranslator {
  return translator(viewerLanguage(req, event));
}
