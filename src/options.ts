import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { type ResolvedClusterOptions, resolveClusterOptions } from './cluster/options.ts';
import { OrchestratorError } from './errors.ts';
import { parseCron } from './scheduler/schedule.ts';

export type { ResolvedWorkerOptions };

import {
  JobPriority,
  type OrchestratorOptions,
  type ResolvedWorkerOptions,
  WorkerExecutionMode,
  type WorkerFn,
  type WorkerOptions,
} from './types.ts';

/** What runs: a function in the host, or a module file. */
export type WorkerSource = { kind: 'function'; fn: WorkerFn } | { kind: 'module'; path: string };

export const WORKER_DEFAULTS = {
  executionMode: WorkerExecutionMode.SCHEDULED,
  intervalSeconds: 300,
  timeoutSeconds: 60,
  maxRetries: 3,
  retryDelayMs: 1000,
  priority: JobPriority.NORMAL,
  maxConsecutiveFailures: 5,
  breakerCooldownSeconds: null,
  concurrency: 1,
  maxQueue: 1000,
  killGraceMs: 5000,
  idleTimeoutSeconds: 30,
  missedRuns: 'once',
} as const;

const KNOWN_WORKER_OPTIONS = new Set<string>([
  'executionMode',
  'intervalSeconds',
  'cron',
  'timeoutSeconds',
  'maxRetries',
  'retryDelayMs',
  'priority',
  'maxConsecutiveFailures',
  'breakerCooldownSeconds',
  'dependsOn',
  'blocks',
  'isolation',
  'concurrency',
  'maxQueue',
  'memoryLimitMb',
  'heartbeatTimeoutSeconds',
  'killGraceMs',
  'env',
  'execArgv',
  'recycleAfterRuns',
  'idleTimeoutSeconds',
  'missedRuns',
]);

/** Options that only make sense for a sandbox; an inline worker refuses them. */
const SANDBOX_ONLY: readonly (keyof WorkerOptions)[] = [
  'memoryLimitMb',
  'env',
  'execArgv',
  'killGraceMs',
  'recycleAfterRuns',
  'idleTimeoutSeconds',
];
/** Options that only make sense for a child process. */
const PROCESS_ONLY: readonly (keyof WorkerOptions)[] = ['env', 'killGraceMs'];

function invalid(where: string, option: string, expected: string, value: unknown): OrchestratorError {
  return new OrchestratorError(
    'ERR_INVALID_OPTION',
    `${where}${option} must be ${expected}, got ${inspect(value, { depth: 1, breakLength: Infinity })}`,
  );
}

type Check = (where: string, option: string, value: unknown) => void;

const positiveNumber: Check = (where, option, value) => {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw invalid(where, option, 'a finite number > 0', value);
};
const positiveOrInfinity: Check = (where, option, value) => {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0)
    throw invalid(where, option, 'a number > 0 (or Infinity)', value);
};
const nonNegativeNumber: Check = (where, option, value) => {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0)
    throw invalid(where, option, 'a number >= 0 (or Infinity)', value);
};
const integerAtLeast =
  (min: number): Check =>
  (where, option, value) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
      throw invalid(where, option, `an integer >= ${min}`, value);
  };
const stringList: Check = (where, option, value) => {
  if (
    !Array.isArray(value) ||
    value.some((item) => typeof item !== 'string' || item === '' || item.includes('\0'))
  )
    throw invalid(where, option, 'an array of non-empty strings without NUL bytes', value);
};

/** Validates and resolves `registerWorker` arguments. Throws `OrchestratorError` at the first problem. */
export function resolveWorker(
  name: unknown,
  worker: unknown,
  options: WorkerOptions | undefined,
): { source: WorkerSource; options: ResolvedWorkerOptions } {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new OrchestratorError(
      'ERR_INVALID_OPTION',
      `name must be a non-empty string, got ${inspect(name)}`,
    );
  }
  const where = `worker "${name}": `;
  const source = resolveSource(where, worker);
  const opts: WorkerOptions = options ?? {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) {
    throw invalid(where, 'options', 'an object', opts);
  }
  for (const key of Object.keys(opts)) {
    if (!KNOWN_WORKER_OPTIONS.has(key)) {
      throw invalid(where, key, 'a known option (there is no such option)', opts[key as keyof WorkerOptions]);
    }
  }
  const given = (key: keyof WorkerOptions) => opts[key] !== undefined;

  // The enum's values are its string names: 'triggered' and WorkerExecutionMode.TRIGGERED are one value.
  const executionMode = (opts.executionMode ?? WORKER_DEFAULTS.executionMode) as WorkerExecutionMode;
  if (!Object.values(WorkerExecutionMode).includes(executionMode)) {
    throw invalid(
      where,
      'executionMode',
      `one of ${Object.values(WorkerExecutionMode).join(', ')}`,
      executionMode,
    );
  }
  const isolation = opts.isolation ?? (source.kind === 'function' ? 'inline' : 'thread');
  if (!['inline', 'thread', 'process'].includes(isolation)) {
    throw invalid(where, 'isolation', "'inline', 'thread' or 'process'", isolation);
  }
  if (source.kind === 'function' && isolation !== 'inline') {
    throw invalid(
      where,
      'isolation',
      "'inline' for a function (give a module path to isolate it)",
      isolation,
    );
  }
  const notApplicable = isolation === 'inline' ? SANDBOX_ONLY : isolation === 'thread' ? PROCESS_ONLY : [];
  for (const key of notApplicable) {
    if (given(key)) {
      throw invalid(where, key, `left unset for isolation '${isolation}' (it cannot apply)`, opts[key]);
    }
  }

  if (given('intervalSeconds')) positiveNumber(where, 'intervalSeconds', opts.intervalSeconds);
  let cron: string | undefined;
  if (given('cron')) {
    cron = validateCron(where, opts.cron);
    if (given('intervalSeconds')) {
      throw invalid(where, 'cron', 'left unset when intervalSeconds is given (choose one)', opts.cron);
    }
  }
  if (executionMode !== WorkerExecutionMode.SCHEDULED) {
    for (const key of ['cron', 'intervalSeconds'] as const) {
      if (given(key)) throw invalid(where, key, `left unset for executionMode '${executionMode}'`, opts[key]);
    }
  }
  if (given('timeoutSeconds')) positiveOrInfinity(where, 'timeoutSeconds', opts.timeoutSeconds);
  for (const key of ['maxRetries', 'maxQueue', 'retryDelayMs', 'killGraceMs'] as const) {
    if (given(key)) integerAtLeast(0)(where, key, opts[key]);
  }
  for (const key of ['maxConsecutiveFailures', 'concurrency', 'recycleAfterRuns'] as const) {
    if (given(key)) integerAtLeast(1)(where, key, opts[key]);
  }
  if (opts.breakerCooldownSeconds !== undefined && opts.breakerCooldownSeconds !== null) {
    const v = opts.breakerCooldownSeconds;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw invalid(where, 'breakerCooldownSeconds', 'a finite number >= 0 or null', v);
    }
  }
  if (given('memoryLimitMb')) positiveNumber(where, 'memoryLimitMb', opts.memoryLimitMb);
  if (given('heartbeatTimeoutSeconds'))
    positiveNumber(where, 'heartbeatTimeoutSeconds', opts.heartbeatTimeoutSeconds);
  if (given('idleTimeoutSeconds')) nonNegativeNumber(where, 'idleTimeoutSeconds', opts.idleTimeoutSeconds);
  if (given('priority')) {
    const p = opts.priority;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < JobPriority.LOW || p > JobPriority.CRITICAL) {
      throw invalid(where, 'priority', 'a JobPriority (0 LOW .. 3 CRITICAL)', p);
    }
  }
  for (const key of ['dependsOn', 'blocks', 'execArgv'] as const) {
    if (given(key)) stringList(where, key, opts[key]);
  }
  if (given('missedRuns') && opts.missedRuns !== 'once' && opts.missedRuns !== 'skip') {
    throw invalid(where, 'missedRuns', "'once' or 'skip'", opts.missedRuns);
  }
  if (given('missedRuns') && executionMode !== WorkerExecutionMode.SCHEDULED) {
    throw invalid(where, 'missedRuns', `left unset for executionMode '${executionMode}'`, opts.missedRuns);
  }
  if (opts.blocks?.includes(name))
    throw invalid(where, 'blocks', 'a list of other workers (not itself)', opts.blocks);
  if (given('env')) {
    const env = opts.env;
    if (
      typeof env !== 'object' ||
      env === null ||
      Array.isArray(env) ||
      Object.entries(env).some(([k, v]) => typeof v !== 'string' || k.includes('\0') || v.includes('\0'))
    ) {
      throw invalid(where, 'env', 'an object of string values (no NUL bytes)', env);
    }
  }

  return {
    source,
    options: {
      executionMode,
      intervalSeconds: opts.intervalSeconds ?? WORKER_DEFAULTS.intervalSeconds,
      cron,
      timeoutSeconds: opts.timeoutSeconds ?? WORKER_DEFAULTS.timeoutSeconds,
      maxRetries: opts.maxRetries ?? WORKER_DEFAULTS.maxRetries,
      retryDelayMs: opts.retryDelayMs ?? WORKER_DEFAULTS.retryDelayMs,
      priority: opts.priority ?? WORKER_DEFAULTS.priority,
      maxConsecutiveFailures: opts.maxConsecutiveFailures ?? WORKER_DEFAULTS.maxConsecutiveFailures,
      breakerCooldownSeconds: opts.breakerCooldownSeconds ?? WORKER_DEFAULTS.breakerCooldownSeconds,
      dependsOn: nameList(opts.dependsOn),
      blocks: nameList(opts.blocks),
      isolation,
      concurrency: opts.concurrency ?? WORKER_DEFAULTS.concurrency,
      maxQueue: opts.maxQueue ?? WORKER_DEFAULTS.maxQueue,
      memoryLimitMb: opts.memoryLimitMb,
      heartbeatTimeoutSeconds: opts.heartbeatTimeoutSeconds,
      killGraceMs: opts.killGraceMs ?? WORKER_DEFAULTS.killGraceMs,
      env: opts.env === undefined ? undefined : Object.freeze({ ...opts.env }),
      execArgv: opts.execArgv === undefined ? undefined : Object.freeze([...opts.execArgv]),
      recycleAfterRuns: opts.recycleAfterRuns,
      idleTimeoutSeconds: opts.idleTimeoutSeconds ?? WORKER_DEFAULTS.idleTimeoutSeconds,
      missedRuns: opts.missedRuns ?? WORKER_DEFAULTS.missedRuns,
    },
  };
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/** A frozen list without repeats; workers with none share one empty list. */
function nameList(names: readonly string[] | undefined): readonly string[] {
  return names === undefined || names.length === 0 ? NO_NAMES : Object.freeze([...new Set(names)]);
}

function resolveSource(where: string, worker: unknown): WorkerSource {
  if (typeof worker === 'function') return { kind: 'function', fn: worker as WorkerFn };
  let path: string;
  if (worker instanceof URL) {
    if (worker.protocol !== 'file:')
      throw invalid(where, 'worker', 'a function, a path or a file: URL', worker.href);
    path = fileURLToPath(worker);
  } else if (typeof worker === 'string' && worker !== '') {
    path = worker.startsWith('file:') ? fileURLToPath(worker) : worker;
  } else {
    throw invalid(where, 'worker', 'a function, a path or a file: URL', worker);
  }
  const absolute = isAbsolute(path) ? path : resolve(process.cwd(), path);
  let isFile = false;
  try {
    isFile = statSync(absolute).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) {
    throw new OrchestratorError('ERR_MODULE_NOT_FOUND', `${where}module not found: ${absolute}`);
  }
  return { kind: 'module', path: absolute };
}

function validateCron(where: string, pattern: unknown): string {
  if (typeof pattern !== 'string')
    throw invalid(where, 'cron', 'a cron pattern string of 5 or 6 fields', pattern);
  const fields = pattern.trim().split(/\s+/).length;
  const isNickname = pattern.trim().startsWith('@');
  if (!isNickname && fields !== 5 && fields !== 6) {
    throw invalid(where, 'cron', 'a cron pattern of 5 or 6 fields', pattern);
  }
  try {
    parseCron(pattern);
  } catch (error) {
    throw invalid(where, 'cron', `a valid cron pattern (${(error as Error).message})`, pattern);
  }
  return pattern;
}

const KNOWN_ORCHESTRATOR_OPTIONS = new Set<string>([
  'tickIntervalMs',
  'maxConcurrentWorkers',
  'enableHealthChecks',
  'healthSampleMs',
  'shutdownTimeoutMs',
  'logger',
  'maxDeadLetters',
  'maxPayloadBytes',
  'clock',
  'store',
  'cluster',
]);

/** Orchestrator options after validation. */
export interface ResolvedOrchestratorOptions {
  maxConcurrentWorkers: number;
  enableHealthChecks: boolean;
  healthSampleMs: number;
  shutdownTimeoutMs: number;
  maxDeadLetters: number;
  maxPayloadBytes: number;
  /** Set only in cluster mode. */
  cluster?: ResolvedClusterOptions;
}

/** 16 MiB: far above a job's parameters, far below what would make a store or a status page a problem. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export function resolveOrchestratorOptions(
  options: OrchestratorOptions | undefined,
): ResolvedOrchestratorOptions {
  const opts = options ?? {};
  const where = 'orchestrator: ';
  for (const key of Object.keys(opts)) {
    if (!KNOWN_ORCHESTRATOR_OPTIONS.has(key)) {
      throw invalid(
        where,
        key,
        'a known option (there is no such option)',
        opts[key as keyof OrchestratorOptions],
      );
    }
  }
  if (opts.tickIntervalMs !== undefined) positiveNumber(where, 'tickIntervalMs', opts.tickIntervalMs);
  if (opts.maxConcurrentWorkers !== undefined)
    integerAtLeast(1)(where, 'maxConcurrentWorkers', opts.maxConcurrentWorkers);
  if (opts.enableHealthChecks !== undefined && typeof opts.enableHealthChecks !== 'boolean') {
    throw invalid(where, 'enableHealthChecks', 'a boolean', opts.enableHealthChecks);
  }
  if (opts.healthSampleMs !== undefined) positiveNumber(where, 'healthSampleMs', opts.healthSampleMs);
  if (opts.shutdownTimeoutMs !== undefined)
    nonNegativeNumber(where, 'shutdownTimeoutMs', opts.shutdownTimeoutMs);
  if (opts.maxDeadLetters !== undefined) integerAtLeast(1)(where, 'maxDeadLetters', opts.maxDeadLetters);
  if (opts.maxPayloadBytes !== undefined) integerAtLeast(1)(where, 'maxPayloadBytes', opts.maxPayloadBytes);
  if (opts.store !== undefined && opts.store !== 'memory') {
    const store = opts.store as unknown;
    const isPath = typeof store === 'string' && store !== '' && !store.includes('\0');
    const isStore =
      typeof store === 'object' &&
      store !== null &&
      ['open', 'apply', 'close'].every((m) => typeof (store as Record<string, unknown>)[m] === 'function');
    if (!isPath && !isStore) throw invalid(where, 'store', "'memory', a file path or a Store object", store);
  }
  const cluster = opts.cluster === undefined ? undefined : resolveClusterOptions(opts.cluster);
  if (cluster !== undefined && opts.store !== undefined && opts.store !== 'memory') {
    throw invalid(where, 'store', "'memory' beside cluster (Redis is the cluster's store)", opts.store);
  }
  if (opts.logger !== undefined && opts.logger !== false) {
    const l = opts.logger as unknown as Record<string, unknown>;
    if (
      typeof l !== 'object' ||
      l === null ||
      typeof l.child !== 'function' ||
      typeof l.warn !== 'function'
    ) {
      throw invalid(where, 'logger', 'a pino logger or false', opts.logger);
    }
  }
  return {
    maxConcurrentWorkers: opts.maxConcurrentWorkers ?? availableParallelism(),
    enableHealthChecks: opts.enableHealthChecks ?? true,
    healthSampleMs: opts.healthSampleMs ?? 1000,
    shutdownTimeoutMs: opts.shutdownTimeoutMs ?? 30_000,
    maxDeadLetters: opts.maxDeadLetters ?? 10_000,
    maxPayloadBytes: opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    ...(cluster === undefined ? {} : { cluster }),
  };
}
