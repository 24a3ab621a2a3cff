// The tools the scenarios compare corral with live in benchmarks/peers/node_modules (see run.ts), apart
// from the library's own dependencies; they are typed here, as far as the scenarios use them, so that
// the library's typecheck does not depend on them being installed.
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const peersRequire = createRequire(fileURLToPath(new URL('../peers/package.json', import.meta.url)));

/** The path of a peer's entry point (as `require` resolves it); undefined if it is not installed. */
export function peerPath(name: string): string | undefined {
  try {
    return peersRequire.resolve(name);
  } catch {
    return undefined;
  }
}

/** Loads a peer from benchmarks/peers/node_modules; undefined if it is not installed. */
export async function importPeer<T>(name: string): Promise<T | undefined> {
  const path = peerPath(name);
  if (path === undefined) return undefined;
  // The peers ship CommonJS for require(): import() gives module.exports as the default export, or
  // (under tsx, for a module marked __esModule such as bullmq's) the named exports only.
  const mod = (await import(pathToFileURL(path).href)) as { default?: T };
  return mod.default ?? (mod as T);
}

export interface BullJob {
  id?: string | undefined;
}
export interface BullQueue {
  add(name: string, data: unknown, opts: Record<string, unknown>): Promise<BullJob>;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
export interface BullWorker {
  on(event: 'completed', listener: (job: BullJob, result: unknown) => void): unknown;
  on(event: 'failed', listener: (job: BullJob | undefined, error: Error) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
export interface BullQueueEvents {
  on(event: 'completed', listener: (args: { jobId: string; returnvalue: unknown }) => void): unknown;
  on(event: 'failed', listener: (args: { jobId: string; failedReason: string }) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}
export interface BullMQ {
  Queue: new (name: string, opts: Record<string, unknown>) => BullQueue;
  Worker: new (name: string, processor: string, opts: Record<string, unknown>) => BullWorker;
  QueueEvents: new (name: string, opts: Record<string, unknown>) => BullQueueEvents;
}
