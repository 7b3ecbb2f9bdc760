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

/** Refuses a request whose query, path or parsed body carries text no route should take. */
export const rejectBadText: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(new HttpError(400, 'invalid_request', 'The path has a broken %-encoding.'));
  }
  const where = !isCleanText(path)
    ? ['path', 'contains a NUL byte or broken Unicode']
    : ([
        ['query', findBadText(req.query)],
        ['body', findBadText(req.body)],
      ].find(([, bad]) => bad) ?? []);
  if (where[1]) return next(new HttpError(400, 'invalid_request', `The ${where[0]} ${where[1]}.`));
  next();
};
