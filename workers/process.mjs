// Pipeline step 2 (run after each successful "fetch"). Input: ignored.
// Output: { file, count, sum, mean, min, max } for the newest batch, or { file: null, count: 0 }
// when there is no batch yet.
import { readFileSync } from 'node:fs';
import { listBatches } from './batches.mjs';

export default function processBatch() {
  const newest = listBatches()[0];
  if (!newest) return { file: null, count: 0 };
  const { records } = JSON.parse(readFileSync(newest.file, 'utf8'));
  const values = records.map((r) => r.value);
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    file: newest.file,
    count: values.length,
    sum,
    mean: values.length ? sum / values.length : 0,
    min: values.length ? Math.min(...values) : null,
    max: values.length ? Math.max(...values) : null,
  };
}
