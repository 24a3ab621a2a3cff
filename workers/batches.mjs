// Shared by the pipeline examples (fetch -> process, cleanup): where the batch files live.
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BATCH_DIR = join(tmpdir(), 'corral-demo');

/** Batch files, newest first: [{ file, mtimeMs }]. Empty if the folder does not exist yet. */
export function listBatches() {
  let names;
  try {
    names = readdirSync(BATCH_DIR);
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => n.startsWith('batch-') && n.endsWith('.json'))
    .map((n) => {
      const file = join(BATCH_DIR, n);
      return { file, mtimeMs: statSync(file).mtimeMs };
    })
    .sort((a, b) => b.mtimeMs - a.mtimeMs || b.file.localeCompare(a.file));
}
