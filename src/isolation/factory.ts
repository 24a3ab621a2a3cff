import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { WorkerRecord } from '../worker-record.ts';
import { moduleLoader } from './execute.ts';
import { InlinePool } from './inline.ts';
import { type Pool, SandboxPool } from './pool.ts';
import { ProcessSandbox } from './process.ts';
import type { Reaper } from './reaper.ts';
import { ThreadSandbox } from './thread.ts';

export interface FactoryContext {
  clock: Clock;
  logger: Logger;
  reaper: Reaper;
  /** How often a thread reports its heap while busy; 0 with health checks off. */
  heapReportMs: number;
}

/** The sandbox pool of a worker, for its isolation. */
export function createPool(worker: WorkerRecord, context: FactoryContext): Pool {
  const { options, source } = worker;
  const { clock } = context;
  if (options.isolation === 'inline') {
    const load = source.kind === 'function' ? () => Promise.resolve(source.fn) : moduleLoader(source.path);
    return new InlinePool(worker.name, load, () => worker.staticConfig());
  }
  const modulePath = source.kind === 'module' ? source.path : '';
  const poolOptions = {
    recycleAfterRuns: options.recycleAfterRuns,
    idleTimeoutMs: options.idleTimeoutSeconds * 1000,
  };
  const log = context.logger.child({ worker: worker.name });
  if (options.isolation === 'thread') {
    return new SandboxPool(
      () =>
        new ThreadSandbox({
          modulePath,
          execArgv: options.execArgv,
          memoryLimitMb: options.memoryLimitMb,
          heapReportMs: context.heapReportMs,
          onStrayError: (error) =>
            log.warn({ err: error }, 'a thread died on an error thrown outside any run; it will be replaced'),
        }),
      poolOptions,
      clock,
    );
  }
  return new SandboxPool(
    () =>
      new ProcessSandbox({
        modulePath,
        execArgv: options.execArgv,
        env: options.env,
        killGraceMs: options.killGraceMs,
        reaper: context.reaper,
        onOutput: (stream, line) =>
          stream === 'stderr' ? log.warn({ stream }, line) : log.info({ stream }, line),
        onOutputDropped: (stream, count) => log.warn({ stream, count }, 'output lines dropped (flood limit)'),
      }),
    poolOptions,
    clock,
  );
}
