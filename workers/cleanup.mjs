// Pipeline housekeeping. Input: { keep?: number } (default 3).
// Output: { deleted, kept } — it deletes all but the newest `keep` batch files.
// Registered with blocks: ['process'] so it never deletes a batch while "process" reads it.
import { rmSync } from 'node:fs';
import { listBatches } from './batches.mjs';

export default function cleanup(ctx) {
  const keep = ctx.payload?.keep ?? 3;
  const old = listBatches().slice(keep);
  for (const { file } of old) rmSync(file, { force: true });
  return { deleted: old.length, kept: keep };
}
