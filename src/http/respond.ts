import type { ServerResponse } from 'node:http';
import { RelayError } from '../errors.js';

/** 1×1 transparent GIF, for image pixels. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export function sendPixel(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'image/gif', 'content-length': PIXEL.length, 'cache-control': 'no-store' });
  res.end(PIXEL);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204, { 'cache-control': 'no-store' });
  res.end();
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** The error body every endpoint uses: a stable code and a message that says what was wrong. */
export function errorBody(err: RelayError): { error: { code: string; message: string } } {
  return { error: { code: err.code, message: err.message } };
}
