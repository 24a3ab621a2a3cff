import { columns } from './columns.ts';
import { plainText } from './terminal-text.ts';
// Renders dead letters (GET /dead-letters) as a fixed-width text table, one row per entry.
// Pure, like status-table.ts: no I/O, no clock, no colours.

export interface DeadLetterLike {
  id: string;
  name: string;
  reason: string;
  error: string;
  attempts: number;
  failedAt: string;
  payload?: unknown;
  /** Instead of `payload`, when the server could not serialise it. */
  payloadError?: string;
}

const HEADERS = ['id', 'worker', 'reason', 'attempts', 'failed at', 'payload', 'error'] as const;
const HEADERS_WITHOUT_PAYLOAD = HEADERS.filter((header) => header !== 'payload');
const RIGHT_ALIGNED = new Set<string>(['attempts']);
const MAX_CELL = 60;

function clip(text: string): string {
  // Control sequences out first: their length must not count, nor their text survive a cut.
  const flat = plainText(text).replace(/\s+/g, ' ').trim();
  return flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL - 1)}…` : flat;
}

function payloadText(payload: unknown): string {
  if (payload === undefined) return '-';
  try {
    return clip(JSON.stringify(payload) ?? String(payload));
  } catch {
    return clip(String(payload));
  }
}

/**
 * The entries as text (oldest first, as given), lines joined with '\n', no trailing newline. The payload
 * column only with `payload` (the API leaves payloads out unless asked).
 */
export function renderDeadLetterTable(
  entries: readonly DeadLetterLike[],
  { payload = true }: { payload?: boolean } = {},
): string {
  if (entries.length === 0) return 'no dead letters';
  const headers = payload ? HEADERS : HEADERS_WITHOUT_PAYLOAD;
  const rows: string[][] = [[...headers]];
  for (const d of entries) {
    const row = [d.id, d.name, d.reason, String(d.attempts), d.failedAt];
    if (payload)
      row.push(d.payloadError === undefined ? payloadText(d.payload) : `(${clip(d.payloadError)})`);
    row.push(clip(d.error));
    rows.push(row);
  }
  const lines = columns(headers, rows, RIGHT_ALIGNED);
  const count = `${entries.length} dead letter${entries.length === 1 ? '' : 's'}`;
  return [count, ...lines].join('\n');
}
