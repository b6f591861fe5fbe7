import type { IncomingMessage, ServerResponse } from 'node:http';

export type OriginVerdict = 'no-origin' | 'allowed' | 'forbidden';

/**
 * Browser events may come only from the configured origins. A request without an Origin header
 * (an image pixel, a server) is not a cross-origin browser call and passes. With no list
 * configured every origin passes, for local trials; the relay warns about that at startup.
 */
export function createOriginPolicy(allowedOrigins: readonly string[] | undefined) {
  const allowed = allowedOrigins ? new Set(allowedOrigins.map((o) => new URL(o).origin)) : undefined;
  return function originPolicy(req: IncomingMessage, res: ServerResponse): OriginVerdict {
    const origin = req.headers.origin;
    if (!origin) return 'no-origin';
    if (allowed && !allowed.has(origin)) return 'forbidden';
    // Credentials, so the browser keeps the visitor cookie: that requires the exact origin, never *.
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-credentials', 'true');
    res.setHeader('vary', 'Origin');
    return 'allowed';
  };
}

export function answerPreflight(res: ServerResponse): void {
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': 'content-type',
    'access-control-max-age': '86400',
  });
  res.end();
}
