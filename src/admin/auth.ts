import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { RelayError } from '../errors.js';

/**
 * Bearer-token guard for /admin. Without a configured token those paths are disabled entirely,
 * rather than open. Compared through hashes so the comparison is constant-time whatever the lengths.
 */
export function requireAdminToken(token: string | undefined) {
  const expected = token ? digest(token) : undefined;
  return function adminAuth(req: Request, res: Response, next: NextFunction): void {
    if (!expected) {
      throw new RelayError('RELAY_ADMIN_DISABLED', 'the admin API is disabled; set RELAY_ADMIN_TOKEN to enable it', 404);
    }
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!given || !timingSafeEqual(digest(given), expected)) {
      res.setHeader('www-authenticate', 'Bearer');
      throw new RelayError('RELAY_ADMIN_UNAUTHORIZED', 'send Authorization: Bearer <RELAY_ADMIN_TOKEN>', 401);
    }
    next();
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
