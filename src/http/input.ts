import type { RequestHandler } from 'express';
import { isCleanText } from '../validation.ts';
import { HttpError } from './errors.ts';

export { HttpUrl, SafeText } from '../validation.ts';

const MAX_DEPTH = 12;

/** The first problem in a parsed body or query (NUL bytes, broken Unicode, deep nesting), if any. */
export function findBadText(value: unknown, depth = 0): string | undefined {
  if (depth > MAX_DEPTH) return `is nested more than ${MAX_DEPTH} levels deep`;
  if (typeof value === 'string') {
    return isCleanText(value) ? undefined : 'contains a NUL byte or broken Unicode';
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const bad = findBadText(item, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const bad = findBadText(key, depth + 1) ?? findBadText(item, depth + 1);
      if (bad) return bad;
    }
  }
  return undefined;
}

/** Refuses a request whose path or query carries text no route should take (before any parsing). */
export const rejectBadText: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(new HttpError(400, 'invalid_request', 'The path has a broken %-encoding.'));
  }
  const [where, bad] = isCleanText(path)
    ? ['query', findBadText(req.query)]
    : ['path', 'contains a NUL byte or broken Unicode'];
  next(bad ? new HttpError(400, 'invalid_request', `The ${where} ${bad}.`) : undefined);
};

/** The same for a parsed body: mounted right after the JSON parser. */
export const rejectBadBody: RequestHandler = (req, _res, next) => {
  const bad = findBadText(req.body);
  next(bad ? new HttpError(400, 'invalid_request', `The body ${bad}.`) : undefined);
};
