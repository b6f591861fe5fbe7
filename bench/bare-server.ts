import { createServer } from 'node:http';

/** The machine's limit: a bare node:http server that answers 204, measured beside the relay. */
const port = Number(process.argv[2] ?? 0);
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(204);
  res.end();
});
server.listen(port, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as { port: number }).port });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
