import type { ErrorRequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '../log.ts';

/** An error meant for the API caller: status, a stable code and a message that says what to fix. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function validationError(error: z.ZodError, where: string): HttpError {
  const details = error.issues.map((i) => ({ field: i.path.join('.') || where, message: i.message }));
  const first = details[0];
  return new HttpError(
    400,
    'invalid_request',
    first ? `Invalid ${where}: ${first.field} ${first.message}` : `Invalid ${where}`,
    details,
  );
}

export function parseOr400<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, where);
  return result.data;
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: { code: err.code, message: err.message, details: err.details } });
      return;
    }
    // express.json() and friends raise errors with a status (malformed JSON, too large).
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      res.status(status).json({ error: { code: 'bad_request', message: (err as Error).message } });
      return;
    }
    log.error('request failed', { method: req.method, path: loggablePath(req.path), err: String(err) });
    if (!res.headersSent) res.status(500).json({ error: { code: 'internal', message: 'Internal error' } });
  };
}

/** A path fit for a log: the signed tokens of personal links and playback URLs left out. */
export function loggablePath(path: string): string {
  return path.replace(/^\/(me|u|s)\/[^/]+/, '/$1/<token>');
}
