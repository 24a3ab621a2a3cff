import type { IncomingMessage } from 'node:http';
import { HttpError } from './respond.ts';

/** What a body may be labelled as: JSON, or nothing (curl and scripts often omit the header). */
function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined || contentType.trim() === '') return true;
  const type = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

function tooLarge(limit: number): HttpError {
  // The handler closes the connection after the answer: what is left of the body is never read.
  return new HttpError(413, 'ERR_PAYLOAD_TOO_LARGE', `the request body is larger than ${limit} bytes`);
}

function parse(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new HttpError(
      400,
      'ERR_BAD_REQUEST',
      `the request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** A body a framework (Express' body parsers) already read from the stream, if any. */
function preParsed(req: IncomingMessage, limit: number): { value: unknown } | undefined {
  if (!req.readableEnded) return undefined;
  const body = (req as { body?: unknown }).body;
  if (body === undefined) return { value: undefined };
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    if (Buffer.byteLength(body) > limit) throw tooLarge(limit);
    return { value: parse(body.toString()) };
  }
  return { value: body };
}

/**
 * Reads the request body as JSON: `undefined` when it is empty. Refuses (as {@link HttpError}) a
 * declared or actual size above `limit` (413) without buffering it, a content type other than JSON
 * (415), malformed JSON (400), and a body still incomplete `timeoutMs` after reading began (408).
 */
export async function readJsonBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<unknown> {
  if (!isJsonType(req.headers['content-type'])) {
    throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'the request body must be application/json');
  }
  const already = preParsed(req, limit);
  if (already !== undefined) return already.value;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);

  const text = await readText(req, limit, timeoutMs);
  return parse(text);
}

/**
 * Collects the body up to `limit` bytes. Not with `for await`: leaving that loop early destroys the
 * request, and with it the socket, before the 413 could be sent. Here the rest of an oversized body
 * is simply not kept (Node discards what is left after the response ends).
 */
function readText(req: IncomingMessage, limit: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // The handler's own deadline: mounted in a host's server, only Node's requestTimeout (300 s by
    // default) would otherwise end a body that drips in a byte at a time.
    const deadline = setTimeout(() => {
      cleanup();
      reject(
        new HttpError(408, 'ERR_REQUEST_TIMEOUT', `the request body did not arrive within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(deadline);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // Discard the rest as it comes (the socket closes after the 413): a client still sending would
        // otherwise be blocked by back-pressure and might never read the answer.
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size).toString('utf8'));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new HttpError(400, 'ERR_BAD_REQUEST', `the request body could not be read: ${error.message}`));
    };
    const onClose = () => {
      cleanup();
      reject(new HttpError(400, 'ERR_BAD_REQUEST', 'the client went away before sending the whole body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
