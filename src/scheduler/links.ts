import { NO_LINKS, type WorkerRecord } from '../worker-record.ts';

/** Links `worker` with its dependencies and the workers it excludes (names already validated). */
export function link(workers: ReadonlyMap<string, WorkerRecord>, worker: WorkerRecord): void {
  // Lists are replaced, never pushed to: workers without links share one empty array.
  if (worker.options.dependsOn.length > 0) {
    worker.deps = worker.options.dependsOn.flatMap((n) => workers.get(n) ?? []);
  }
  for (const dep of worker.deps) dep.dependents = [...dep.dependents, worker];
  for (const blocked of worker.options.blocks) {
    const other = workers.get(blocked);
    if (other === undefined) continue;
    if (!worker.exclusive.includes(other)) worker.exclusive = [...worker.exclusive, other];
    if (!other.exclusive.includes(worker)) other.exclusive = [...other.exclusive, worker];
  }
}

/** Links every worker from scratch (at start: workers registered while stopped may name each other). */
export function relinkAll(workers: ReadonlyMap<string, WorkerRecord>): void {
  for (const worker of workers.values()) {
    worker.deps = NO_LINKS;
    worker.dependents = NO_LINKS;
    worker.exclusive = NO_LINKS;
  }
  for (const worker of workers.values()) link(workers, worker);
}
