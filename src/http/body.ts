import type { IncomingMessage } from 'node:http';
import { BadRequestError } from '../errors.js';

/** A browser tag's event is a few KB; anything past this is not one. */
export const MAX_BODY_BYTES = 64 * 1024;

const tooLarge = () =>
  new BadRequestError('RELAY_BODY_TOO_LARGE', `the request body exceeds ${MAX_BODY_BYTES} bytes`, 413);

/**
 * Whether the request announced a body (or, under functions-framework, brought one read already).
 * Most hits carry everything in the query string: with no body announced, there is none to wait for.
 */
export function bodyAnnounced(req: IncomingMessage & { rawBody?: Buffer }): boolean {
  if (Buffer.isBuffer(req.rawBody)) return true;
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads the body up to the limit. Under functions-framework the body was already read and kept as
 * `rawBody`, so that is used instead of the (drained) stream.
 */
export async function readBody(req: IncomingMessage & { rawBody?: Buffer }): Promise<string> {
  if (Buffer.isBuffer(req.rawBody)) {
    if (req.rawBody.length > MAX_BODY_BYTES) throw tooLarge();
    return req.rawBody.toString('utf8');
  }
  if (!bodyAnnounced(req)) return '';
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw tooLarge();
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => reject(new BadRequestError('RELAY_BODY_INCOMPLETE', 'the request body was cut off')));
  });
}
