/**
 * A minimal cookie-keeping client, standing in for one browser: it sends back the cookie the relay
 * set, like a browser on the shop's domain would.
 */
export class Browser {
  cookie: string | undefined;
  lastSetCookie: string | undefined;

  constructor(private readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set('cookie', this.cookie);
    const res = await fetch(this.base + path, { ...init, headers });
    const set = res.headers.get('set-cookie');
    this.lastSetCookie = set ?? undefined;
    if (set) this.cookie = set.split(';')[0];
    return res;
  }

  /** A JSON event through POST /data, the way the relay's tag sends it. */
  send(event: Record<string, unknown>): Promise<Response> {
    return this.request('/data', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });
  }

  land(pageUrl: string, extra: Record<string, unknown> = {}): Promise<Response> {
    return this.send({ event_name: 'page_view', page_location: pageUrl, ...extra });
  }

  purchase(transactionId: string, extra: Record<string, unknown> = {}): Promise<Response> {
    return this.send({ event_name: 'purchase', transaction_id: transactionId, value: 49.9, currency: 'EUR', ...extra });
  }
}
