import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so it does not share the relay's event loop. It
 * takes one scenario as JSON and prints autocannon's figures as JSON.
 *
 * Traffic shapes: `bare` (GET /), `mixed` (90 % page views of known visitors, 9 % landings of new
 * visitors with a 32-character click ID and a GA4 client ID, 1 % purchases by landed visitors),
 * `conversions` (purchases only). Every purchase has its own transaction ID.
 */
export interface LoadSpec {
  url: string;
  shape: 'bare' | 'mixed' | 'conversions';
  connections: number;
  durationS: number;
  /** Fixed total rate (requests/s); absent = as fast as the server answers. */
  rate?: number;
  /** A file with two lists of cookie headers: known visitors and landed visitors. */
  cookiesFile?: string;
  prefix: string;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Send time of each purchase, by transaction ID, to measure enqueue-to-delivered. */
  purchases: Record<string, number>;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const cookies = spec.cookiesFile
  ? (JSON.parse(readFileSync(spec.cookiesFile, 'utf8')) as { known: string[]; landed: string[] })
  : { known: [], landed: [] };
const purchases: Record<string, number> = {};
let n = 0;

const page = (path: string) => `https://www.shop.example${path}`;
const JSON_TYPE = { 'content-type': 'application/json' };

type Built = { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string };

function pageView(i: number): Built {
  const cookie = cookies.known[i % cookies.known.length]!;
  const body = JSON.stringify({ event_name: 'page_view', page_location: page(`/product/${i % 500}`) });
  return { method: 'POST', path: '/data', headers: { ...JSON_TYPE, cookie }, body };
}

/** A new visitor (no cookie) landing with a 32-character click ID and a GA4 client ID. */
function landing(i: number): Built {
  const click = `${spec.prefix}${i.toString(16).padStart(12, '0')}`.padEnd(32, 'a').slice(0, 32);
  const body = JSON.stringify({ event_name: 'page_view', page_location: page(`/?s1=${click}`), client_id: `${1_000_000_000 + i}.1700000000` });
  return { method: 'POST', path: '/data', headers: JSON_TYPE, body };
}

/** A landed visitor's purchase, with its own transaction ID: built as it is sent. */
function purchase(): Built {
  const i = n++;
  const transactionId = `${spec.prefix}-${i}`;
  purchases[transactionId] = Date.now();
  const cookie = cookies.landed[i % cookies.landed.length]!;
  const body = JSON.stringify({ event_name: 'purchase', transaction_id: transactionId, value: 49.9, currency: 'EUR' });
  return { method: 'POST', path: '/data', headers: { ...JSON_TYPE, cookie }, body };
}

/**
 * The request sequence each connection cycles through. Page views and landings are built once, so
 * the generator spends its CPU sending, as it does for the bare server; only purchases, which need
 * a fresh transaction ID, are built per request.
 */
function sequence(): autocannon.Request[] {
  if (spec.shape === 'bare') return [{ method: 'GET', path: '/' }];
  if (spec.shape === 'conversions') return [{ setupRequest: (req) => ({ ...req, ...purchase() }) }];
  return Array.from({ length: 100 }, (_, slot): autocannon.Request => {
    if (slot < 90) return pageView(slot);
    if (slot < 99) return landing(slot);
    return { setupRequest: (req) => ({ ...req, ...purchase() }) };
  });
}

autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    ...(spec.rate ? { overallRate: spec.rate } : {}),
    requests: sequence(),
  },
  (err, result) => {
    if (err) throw err;
    report(result);
  },
);

function report(result: autocannon.Result): void {
  const out: LoadResult = {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    purchases,
  };
  process.stdout.write(JSON.stringify(out));
}
