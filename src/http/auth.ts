import type { RequestHandler, Response } from 'express';
import { findAccountByApiKey, type Account } from '../db/accounts.ts';
import type { Db } from '../db/database.ts';
import { HttpError } from './errors.ts';

/** Bearer API key -> account. Everything under /api sees only that account's data. */
export function requireApiKey(db: Db): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer');
      return next(new HttpError(401, 'unauthorized', 'Send your API key as "Authorization: Bearer <key>".'));
    }
    findAccountByApiKey(db, match[1]!).then((account) => {
      if (!account) {
        res.set('WWW-Authenticate', 'Bearer error="invalid_token"');
        return next(new HttpError(401, 'unauthorized', 'This API key is not valid.'));
      }
      res.locals.account = account;
      next();
    }, next);
  };
}

export function accountOf(res: Response): Account {
  return res.locals.account as Account;
}
