import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so it does not share the relay's event loop. It
 * takes one scenario as JSON and prints autocannon's figures as JSON.
 *
 * The traffic is what a GA4 tag sends when its server_container_url points at the relay:
 * `POST /g/collect` with the hit in the query string. Shapes: `bare` (GET /), `mixed` (90 % page
 * views of known visitors, 9 % landings of new visitors with a 32-character click ID, 1 %
 * purchases by landed visitors), `conversions` (purchases only), `landings` (`amount` landings of
 * new visitors, each with its own click and client ID).
 */
export interface LoadSpec {
  url: string;
  shape: 'bare' | 'mixed' | 'conversions' | 'landings';
  connections: number;
  durationS?: number;
  /** Send exactly this many requests instead of running for a duration. */
  amount?: number;
  /** Fixed total rate (requests/s); absent = as fast as the server answers. */
  rate?: number;
  /** A file with two lists of cookie headers: known visitors and landed visitors. */
  cookiesFile?: string;
  prefix: string;
}

export interface LoadResult {
  rps: number;
  /** Requests answered in all. */
  requests: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Send time of each purchase, by transaction ID, to measure enqueue-to-delivered. */
  purchases: Record<string, number>;
  /** The generator's own CPU time (user and kernel) over the run, in µs: it shares the machine. */
  generatorCpuUs: number;
}

const spec = JSON.parse(process.argv[2]!) as LoadSpec;
const cookies = spec.cookiesFile
  ? (JSON.parse(readFileSync(spec.cookiesFile, 'utf8')) as { known: string[]; landed: Landed[] })
  : { known: [], landed: [] };
type Landed = { cookie: string; clientId: string };
const purchases: Record<string, number> = {};
let n = 0;

type Built = { method: 'GET' | 'POST'; path: string; headers?: Record<string, string> };

const page = (path: string) => encodeURIComponent(`https://www.shop.example${path}`);
const hit = (params: string) => `/g/collect?v=2&tid=G-BENCH0001&gtm=45je4b&_p=1700000000000&${params}`;

function pageView(i: number): Built {
  const cookie = cookies.known[i % cookies.known.length]!;
  return { method: 'POST', path: hit(`cid=${2_000_000_000 + i}.1700000000&en=page_view&dl=${page(`/product/${i % 500}`)}&dt=Product`), headers: { cookie } };
}

/** A new visitor (no relay cookie yet) landing with a 32-character click ID and its GA4 client ID. */
function landing(i: number): Built {
  const click = `${spec.prefix}${i.toString(16).padStart(12, '0')}`.padEnd(32, 'a').slice(0, 32);
  return { method: 'POST', path: hit(`cid=${1_000_000_000 + i}.1700000000&en=page_view&dl=${page(`/?s1=${click}`)}`) };
}

/** A landed visitor's purchase, with its own transaction ID: built as it is sent. */
function purchase(): Built {
  const i = n++;
  const transactionId = `${spec.prefix}-${i}`;
  purchases[transactionId] = Date.now();
  const { cookie, clientId } = cookies.landed[i % cookies.landed.length]!;
  const params = `cid=${clientId}&en=purchase&dl=${page('/checkout/done')}&ep.transaction_id=${transactionId}&epn.value=49.90&cu=EUR`;
  return { method: 'POST', path: hit(params), headers: { cookie } };
}

/**
 * The request sequence each connection cycles through. Page views and landings of the mixed
 * traffic are built once, so the generator spends its CPU sending, as it does for the bare server;
 * requests that must be unique (purchases, memory landings) are built per request.
 */
function sequence(): autocannon.Request[] {
  if (spec.shape === 'bare') return [{ method: 'GET', path: '/' }];
  if (spec.shape === 'conversions') return [{ setupRequest: (req) => ({ ...req, ...purchase() }) }];
  if (spec.shape === 'landings') return [{ setupRequest: (req) => ({ ...req, ...landing(n++) }) }];
  return Array.from({ length: 100 }, (_, slot): autocannon.Request => {
    if (slot < 90) return pageView(slot);
    if (slot < 99) return landing(slot);
    return { setupRequest: (req) => ({ ...req, ...purchase() }) };
  });
}

const started = process.cpuUsage();
autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationS }),
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
    requests: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    purchases,
    generatorCpuUs: (({ user, system }) => user + system)(process.cpuUsage(started)),
  };
  process.stdout.write(JSON.stringify(out));
}
