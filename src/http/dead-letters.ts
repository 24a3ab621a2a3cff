/**
 * `GET /dead-letters` and `GET /dead-letters/:id`. The list comes by pages (`?limit`, `?after=<id>`,
 * `next` in the answer) and without payloads unless asked (`?payload=1`): a queue of thousands of
 * entries with large payloads must not become one huge JSON text at every dashboard poll. Each entry
 * is serialised on its own, so one payload that cannot be (too deep, a throwing toJSON) spoils only
 * its own entry.
 */
import type { DeadLetterControl } from '../control.ts';
import type { DeadLetter } from '../types.ts';
import { toJson, tryToJson } from '../wire-json.ts';
import { HttpError } from './respond.ts';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

/** The entry as JSON: with its payload if asked, or in its place `payloadError` when it cannot be serialised. */
export function deadLetterJson(entry: DeadLetter, withPayload: boolean): string {
  const { payload, ...meta } = entry;
  if (!withPayload) return toJson(meta);
  const whole = tryToJson(entry);
  if ('text' in whole) return whole.text;
  const why = whole.error instanceof Error ? whole.error.message : String(whole.error);
  return toJson({ ...meta, payloadError: `the payload cannot be serialised as JSON: ${why}` });
}

function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  if (value === null || value === '0' || value === 'false') return false;
  if (value === '' || value === '1' || value === 'true') return true;
  throw new HttpError(400, 'ERR_BAD_REQUEST', `${name} must be 1 or 0, got "${value}"`);
}

function pageSize(query: URLSearchParams): number {
  const text = query.get('limit');
  if (text === null) return DEFAULT_PAGE;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new HttpError(
      400,
      'ERR_BAD_REQUEST',
      `limit must be an integer from 1 to ${MAX_PAGE}, got "${text}"`,
    );
  }
  return limit;
}

/**
 * The JSON of one page: `{ deadLetters, next, total }`. `next` is the id to pass as `after` for the
 * following page (`null` on the last one); `total` counts the entries that match, all pages together.
 */
export function deadLetterPage(queue: DeadLetterControl, query: URLSearchParams): string {
  const limit = pageSize(query);
  const withPayload = flag(query, 'payload');
  const order = query.get('order') ?? 'asc';
  if (order !== 'asc' && order !== 'desc') {
    throw new HttpError(400, 'ERR_BAD_REQUEST', `order must be asc (oldest first) or desc, got "${order}"`);
  }
  const entries = queue.list(query.get('worker') ?? undefined);
  if (order === 'desc') entries.reverse();
  let start = 0;
  const after = query.get('after');
  if (after !== null) {
    const index = entries.findIndex((entry) => entry.id === after);
    if (index === -1) {
      throw new HttpError(
        400,
        'ERR_BAD_REQUEST',
        `after: no dead letter with id "${after}" (removed since?): list again from the start`,
      );
    }
    start = index + 1;
  }
  const page = entries.slice(start, start + limit);
  const next = start + limit < entries.length ? (page.at(-1)?.id ?? null) : null;
  const items = page.map((entry) => deadLetterJson(entry, withPayload)).join(',');
  return `{"deadLetters":[${items}],"next":${JSON.stringify(next)},"total":${entries.length}}`;
}
