// Pipeline step 1 ("fetch", no network). Input: { count?: number } (default 50).
// Output: { file, count } — it writes a JSON batch of `count` random records
// [{ id, value }] to <tmpdir>/corral-demo/batch-<time>-<rand>.json.
// Written to a temp name and renamed, so a reader never sees half a file.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BATCH_DIR } from './batches.mjs';

export default function fetch(ctx) {
  const count = ctx.payload?.count ?? 50;
  const records = Array.from({ length: count }, (_, i) => ({
    id: i + 1,
    value: Math.round(Math.random() * 100),
  }));
  mkdirSync(BATCH_DIR, { recursive: true });
  const base = `batch-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`;
  const file = join(BATCH_DIR, base);
  writeFileSync(`${file}.tmp`, JSON.stringify({ fetchedAt: new Date().toISOString(), records }));
  renameSync(`${file}.tmp`, file);
  return { file, count };
}
