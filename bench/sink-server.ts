import { createServer } from 'node:http';

/**
 * The benchmark's network: answers every postback with CAKE's success body and counts them;
 * `GET /stats` returns the count and each order's arrival time, so delivery latency can be measured.
 */
const arrivals = new Map<string, number>();
let received = 0;
const SUCCESS = JSON.stringify({ request_status: 'Success', conversion_id: 1 });

const server = createServer((req, res) => {
  if (req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ received, arrivals: Object.fromEntries(arrivals) }));
    return;
  }
  if (req.url === '/reset') {
    received = 0;
    arrivals.clear();
    res.end();
    return;
  }
  received += 1;
  const q = req.url?.indexOf('unique_id=') ?? -1;
  if (q >= 0) {
    const rest = req.url!.slice(q + 10);
    const end = rest.indexOf('&');
    arrivals.set(decodeURIComponent(end < 0 ? rest : rest.slice(0, end)), Date.now());
  }
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(SUCCESS);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as { port: number }).port }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
