// CPU-heavy example. Input: { rounds?: number } (default 20000).
// Output: the hex sha256 digest after chaining `rounds` hashes of a 4 KiB buffer
// (each round hashes the previous digest plus the buffer), so the work cannot be skipped.
import { createHash } from 'node:crypto';

const block = Buffer.alloc(4096, 'corral');

export default function hash(ctx) {
  const rounds = ctx.payload?.rounds ?? 20000;
  let digest = Buffer.alloc(32);
  for (let i = 0; i < rounds; i++) {
    digest = createHash('sha256').update(digest).update(block).digest();
  }
  return digest.toString('hex');
}
