import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomId } from '../ids.js';
import { indexOf, slice, trim } from '../strings.js';

export interface VisitorCookieOptions {
  name: string;
  domain?: string | undefined;
  maxAgeDays: number;
  /** The first secret signs; every secret verifies, so a rotation keeps existing visitors. */
  secrets: string[];
}

export type CookieState = 'valid' | 'missing' | 'invalid';

export interface Visitor {
  id: string;
  /** What the request carried: a valid signed cookie, none, or one that failed verification. */
  cookie: CookieState;
  /** True when the cookie must be (re)issued: new visitor, rotated secret, or tampered value. */
  issue: boolean;
}

const SIGNATURE_BYTES = 16;
/**
 * Verdicts on cookie values and derived IDs are remembered: most hits come from visitors seen
 * moments ago, and an HMAC per hit is a large share of a page view's cost. Bounded, then reset.
 */
const MEMO_ENTRIES = 20_000;
const ID_BYTES = 16;
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export interface VisitorCookies {
  readonly name: string;
  /**
   * Who sent the request. A new visitor whose hit carries a GA4 client ID gets the visitor ID
   * derived from it, so the clicks stored under the cookie and under the client ID are one record.
   */
  identify(cookieHeader: string | undefined, clientId?: string): Visitor;
  /** The visitor ID a GA4 client ID stands for: keyed, so it cannot be guessed from the client ID. */
  visitorIdForClient(clientId: string): string;
  /** The Set-Cookie header value that stores this visitor ID in the browser. */
  serialize(visitorId: string, secure: boolean): string;
}

export function createVisitorCookies(options: VisitorCookieOptions): VisitorCookies {
  const { name, secrets } = options;
  const signers = secrets.map((secret) => (id: string) => sign(secret, id));
  const prefix = `${name}=`;
  const attributes = cookieAttributes(options);

  const verdicts = new Map<string, 'current' | 'rotated' | undefined>();
  const derived = new Map<string, string>();

  function memoized<V>(memo: Map<string, V>, key: string, compute: () => V): V {
    const known = memo.get(key);
    // One lookup for what is usually there; `has` only tells a remembered undefined from a miss.
    if (known !== undefined || memo.has(key)) return known as V;
    if (memo.size >= MEMO_ENTRIES) memo.clear();
    const value = compute();
    memo.set(key, value);
    return value;
  }

  function verify(value: string): 'current' | 'rotated' | undefined {
    return memoized(verdicts, value, () => verifySignature(value));
  }

  function verifySignature(value: string): 'current' | 'rotated' | undefined {
    const dot = value.indexOf('.');
    if (dot < 0) return undefined;
    const id = value.slice(0, dot);
    if (!ID_PATTERN.test(id)) return undefined;
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    if (given.length !== SIGNATURE_BYTES) return undefined;
    for (let i = 0; i < signers.length; i++) {
      if (timingSafeEqual(given, signers[i]!(id))) return i === 0 ? 'current' : 'rotated';
    }
    return undefined;
  }

  const deriveKey = `client-id:${secrets[0]}`;
  const visitorIdForClient = (clientId: string) =>
    memoized(derived, clientId, () =>
      createHmac('sha256', deriveKey).update(clientId).digest().subarray(0, ID_BYTES).toString('base64url'),
    );

  return {
    name,
    visitorIdForClient,
    identify(cookieHeader, clientId) {
      const fresh = () => (clientId ? visitorIdForClient(clientId) : newVisitorId());
      const value = readCookie(cookieHeader, prefix);
      if (value === undefined) return { id: fresh(), cookie: 'missing', issue: true };
      const verdict = verify(value);
      if (verdict === undefined) return { id: fresh(), cookie: 'invalid', issue: true };
      return { id: slice(value, 0, indexOf(value, '.')), cookie: 'valid', issue: verdict === 'rotated' };
    },
    serialize(visitorId, secure) {
      const signature = signers[0]!(visitorId).toString('base64url');
      return `${prefix}${visitorId}.${signature}${attributes}${secure ? '; Secure' : ''}`;
    },
  };
}

function cookieAttributes(options: VisitorCookieOptions): string {
  const maxAge = Math.floor(options.maxAgeDays * 86_400);
  const domain = options.domain ? `; Domain=${options.domain}` : '';
  return `; Max-Age=${maxAge}; Path=/${domain}; HttpOnly; SameSite=Lax`;
}

function sign(secret: string, id: string): Buffer {
  return createHmac('sha256', secret).update(id).digest().subarray(0, SIGNATURE_BYTES);
}

function newVisitorId(): string {
  return randomId(ID_BYTES);
}

/** Finds one cookie (`prefix` is "name=") without parsing the whole header: the hot path reads only a few. */
export function readCookie(header: string | undefined, prefix: string): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    const at = indexOf(header, prefix, from);
    if (at < 0) return undefined;
    const boundary = at === 0 || header[at - 1] === ' ' || header[at - 1] === ';';
    if (boundary) {
      const end = indexOf(header, ';', at);
      return trim(slice(header, at + prefix.length, end < 0 ? undefined : end));
    }
    from = at + prefix.length;
  }
  return undefined;
}
