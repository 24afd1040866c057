/** Reading a request body with a hard size bound. */
import type { IncomingMessage } from 'node:http';
import { HttpError } from './guard.js';

export const MAX_BODY_BYTES = 64 * 1024;

/** Throw 413 at once when Content-Length already says the body is too big. */
export function checkDeclaredLength(req: IncomingMessage, max = MAX_BODY_BYTES): void {
  const len = Number(req.headers['content-length'] ?? 0);
  if (Number.isFinite(len) && len > max) throw new HttpError(413, `request body too large: ${len} bytes, at most ${max}`);
}

/**
 * Read the whole body (at most `max` bytes, else 413). Past the bound the rest is discarded, not
 * collected, so the client still gets its 413 instead of a reset connection.
 */
export function readBody(req: IncomingMessage, max = MAX_BODY_BYTES): Promise<Buffer> {
  checkDeclaredLength(req, max);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over) return;
      if (size > max) {
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, `request body too large: over ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}
