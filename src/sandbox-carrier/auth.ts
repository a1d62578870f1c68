import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Account } from './engine';
import { errors } from './errors';

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * HTTP Basic with AccountSid:AuthToken, and the path's account must be the authenticated one;
 * anything else is 401 / 20003, as Twilio answers it.
 */
export function basicAuth(accounts: ReadonlyMap<string, Account>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.get('authorization') ?? '';
    const m = /^Basic\s+(\S+)$/i.exec(header);
    const decoded = m ? Buffer.from(m[1] ?? '', 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? '' : decoded.slice(0, colon);
    const secret = colon < 0 ? '' : decoded.slice(colon + 1);
    const account = accounts.get(user);
    if (!account || !sameSecret(secret, account.authToken) || req.params.accountSid !== account.sid) {
      next(errors.authenticate());
      return;
    }
    res.locals.account = account;
    next();
  };
}
