/** Request guards: the Host allow-list (DNS rebinding), the bearer token, and HTTP errors as data. */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** An HTTP error a handler throws; the server turns it into `{"error": message}` with this status. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** True when Host is exactly `127.0.0.1:<port>` or `localhost:<port>` (a rebinding page sends its own name). */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const h = host.toLowerCase();
  return h === `127.0.0.1:${port}` || h === `localhost:${port}`;
}

/** Constant-time token comparison (both sides hashed first, so lengths never leak through timing). */
export function tokenMatches(given: string | undefined | null, token: string): boolean {
  if (!given || !token) return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer <token>` header, if any. */
export function bearerOf(req: IncomingMessage): string | undefined {
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/** Throw 401 unless the request carries the token (header, or `?token=` when the route allows it). */
export function requireToken(req: IncomingMessage, url: URL, token: string, allowQuery: boolean): void {
  const given = bearerOf(req) ?? (allowQuery ? url.searchParams.get('token') : null);
  if (!tokenMatches(given, token)) {
    throw new HttpError(401, 'missing or wrong token: send "Authorization: Bearer <token>" (the token is in g/run/token)', {
      'WWW-Authenticate': 'Bearer realm="wo"',
    });
  }
}
