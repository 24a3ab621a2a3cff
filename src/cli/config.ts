// Loads and validates the config file of `corral run` (and `corral check`). Everything is checked
// before anything starts: the shape here, the option values by registering every worker on a
// throwaway orchestrator (so the messages are the library's own), then the dependency graph.
// Every message names the file, and the worker and the key where there is one:
//   corral.config.mjs: worker "report": timeoutSeconds must be a number > 0 (or Infinity), got -1
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { WorkerOrchestrator } from '../orchestrator.ts';
import { validateGraph } from '../scheduler/graph.ts';
import {
  type ClusterOptions,
  JobPriority,
  type OrchestratorOptions,
  WorkerExecutionMode,
  type WorkerOptions,
} from '../types.ts';
import { CliError, EXIT, errorMessage } from './errors.ts';

/** The port of the HTTP API when a config's `http` gives none, and the port the client commands call. */
export const DEFAULT_PORT = 7070;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_URL = `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;

/** The orchestrator options a config may set: all but `logger` (the CLI's pino logger) and `clock`. */
export type ConfigOrchestratorOptions = Omit<OrchestratorOptions, 'logger' | 'clock'>;

export interface HttpConfig {
  port: number;
  host: string;
  token: string | undefined;
}

export interface WorkerEntry {
  name: string;
  /** Absolute path of the worker's module. */
  module: string;
  options: WorkerOptions;
}

export interface CorralConfig {
  /** The config file as the user named it (what messages show). */
  file: string;
  orchestrator: ConfigOrchestratorOptions;
  /** `undefined`: no `http` in the config, the HTTP API is off. */
  http: HttpConfig | undefined;
  workers: WorkerEntry[];
}

/** A config that cannot be used: one line per problem, each prefixed with the file. Exit code 2. */
export class ConfigError extends CliError {
  readonly problems: readonly string[];

  constructor(file: string, problems: string[]) {
    super(problems.map((problem) => `${file}: ${problem}`).join('\n'), EXIT.USAGE);
    this.problems = problems;
  }
}

const TOP_LEVEL_KEYS = ['orchestrator', 'cluster', 'http', 'workers'];
const HTTP_KEYS = ['port', 'host', 'token'];
const CONFIG_EXTENSIONS = ['.js', '.mjs', '.cjs', '.json'];

const show = (value: unknown): string => inspect(value, { depth: 1, breakLength: Infinity });

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How long a config module may take to load and give its config, by default (README, "CLI"). */
export const DEFAULT_CONFIG_TIMEOUT_MS = 30_000;

/**
 * Settles like `work`, or fails with a ConfigError after `timeoutMs`. The timer also keeps the event
 * loop alive: a config whose promise never settles would otherwise leave node with nothing to do, and
 * it would exit (code 13) with no word.
 */
async function withinDeadline<T>(file: string, work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new ConfigError(file, [
          `the config did not finish loading within ${timeoutMs / 1000} s: its module, or the promise or ` +
            'function it exports, never settled (raise the limit with --config-timeout <seconds> or ' +
            'CORRAL_CONFIG_TIMEOUT)',
        ]),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the file: JSON.parse for .json, import() for .js/.mjs/.cjs (its default export, or a function's result). */
async function readRaw(file: string, absolute: string, timeoutMs: number): Promise<unknown> {
  const fail = (problem: string): never => {
    throw new ConfigError(file, [problem]);
  };
  if (!existsSync(absolute)) fail(`cannot read the config file: ${absolute} does not exist`);
  if (!statSync(absolute).isFile()) fail(`cannot read the config file: ${absolute} is not a file`);
  const ext = extname(absolute);
  if (!CONFIG_EXTENSIONS.includes(ext)) {
    fail(`the config file must be ${CONFIG_EXTENSIONS.join(', ')}, got "${ext || '(no extension)'}"`);
  }
  if (ext === '.json') {
    try {
      return JSON.parse(readFileSync(absolute, 'utf8')) as unknown;
    } catch (error) {
      return fail(`not valid JSON: ${errorMessage(error)}`);
    }
  }
  return withinDeadline(file, loadModule(absolute, fail), timeoutMs);
}

/** The config a module gives: its default export, awaited; called first if it is a function. */
async function loadModule(absolute: string, fail: (problem: string) => never): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(absolute).href)) as Record<string, unknown>;
  } catch (error) {
    return fail(`cannot load the config module: ${errorMessage(error)}`);
  }
  let config = mod.default;
  if (config === undefined) {
    fail('the config module has no default export (export default { workers: { ... } })');
  }
  try {
    if (typeof config === 'function') config = await (config as () => unknown)();
    else config = await config; // a promise of the config
  } catch (error) {
    return fail(
      `the config ${typeof mod.default === 'function' ? 'function threw' : 'promise rejected'}: ${errorMessage(error)}`,
    );
  }
  return config;
}

/** Names written as text in a config: executionMode 'SCHEDULED', priority 'high', timeoutSeconds 'Infinity'. */
function normalizeWorkerOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out = { ...options };
  const modes = Object.values(WorkerExecutionMode) as string[];
  if (typeof out.executionMode === 'string' && modes.includes(out.executionMode.toLowerCase())) {
    out.executionMode = out.executionMode.toLowerCase();
  }
  if (typeof out.priority === 'string') {
    const level = JobPriority[out.priority.toUpperCase() as keyof typeof JobPriority];
    if (typeof level === 'number') out.priority = level;
  }
  if (out.timeoutSeconds === 'Infinity') out.timeoutSeconds = Number.POSITIVE_INFINITY;
  return out;
}

function checkHttp(value: unknown, problems: string[]): HttpConfig | undefined {
  if (value === undefined || value === null || value === false) return undefined;
  if (value === true) return { port: DEFAULT_PORT, host: DEFAULT_HOST, token: undefined };
  if (!isPlainObject(value)) {
    problems.push(`http must be an object { port, host, token } (or false), got ${show(value)}`);
    return undefined;
  }
  const before = problems.length;
  for (const key of Object.keys(value)) {
    if (!HTTP_KEYS.includes(key)) {
      problems.push(`http: unknown key "${key}" (known: ${HTTP_KEYS.join(', ')})`);
    }
  }
  const { port = DEFAULT_PORT, host = DEFAULT_HOST, token } = value;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`http: port must be an integer from 0 to 65535 (0: any free port), got ${show(port)}`);
  }
  if (typeof host !== 'string' || host.trim() === '') {
    problems.push(`http: host must be a non-empty string, got ${show(host)}`);
  }
  if (token !== undefined && (typeof token !== 'string' || token === '')) {
    problems.push(`http: token must be a non-empty string, got ${show(token)}`);
  }
  if (problems.length > before) return undefined;
  return { port: port as number, host: host as string, token: token as string | undefined };
}

function resolveModule(configDir: string, module: string): string {
  if (module.startsWith('file:')) return fileURLToPath(module);
  return isAbsolute(module) ? module : resolve(configDir, module);
}

/** The message of what `check` throws, or undefined if it does not throw. */
function problemOf(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return errorMessage(error);
  }
}

/**
 * Every problem of a set of options that `check` validates all at once (it throws at the first): the
 * whole set first, then each option alone, to name every bad one. A problem that only the options
 * together have (none is wrong alone) is reported as the whole set's.
 */
function everyProblem(
  options: Record<string, unknown>,
  check: (options: Record<string, unknown>) => void,
): string[] {
  const whole = problemOf(() => check(options));
  if (whole === undefined) return [];
  const each = new Set<string>();
  for (const [key, value] of Object.entries(options)) {
    const problem = problemOf(() => check({ [key]: value }));
    if (problem !== undefined) each.add(problem);
  }
  return each.size > 0 ? [...each] : [whole];
}

function optionProblems(orchestrator: ConfigOrchestratorOptions): string[] {
  return everyProblem(orchestrator, (options) => {
    new WorkerOrchestrator({ ...options, logger: false });
  });
}

function workerProblems(worker: WorkerEntry): string[] {
  return everyProblem(worker.options as Record<string, unknown>, (options) =>
    new WorkerOrchestrator({ logger: false }).registerWorker(worker.name, worker.module, options),
  );
}

/** A list of worker names given for `dependsOn` / `blocks`, or [] when it is not one (reported elsewhere). */
function names(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((name): name is string => typeof name === 'string') : [];
}

/**
 * Unknown names in `dependsOn` and `blocks` (every one), then a dependency cycle: checked on what the
 * config declares, even when other options of those workers are wrong.
 */
function graphProblems(workers: readonly WorkerEntry[]): string[] {
  const nodes = new Map(
    workers.map((w) => {
      const options = w.options as Record<string, unknown>;
      return [w.name, { options: { dependsOn: names(options.dependsOn), blocks: names(options.blocks) } }];
    }),
  );
  const problems: string[] = [];
  for (const [name, { options }] of nodes) {
    for (const [field, list] of Object.entries(options)) {
      for (const other of list) {
        if (!nodes.has(other))
          problems.push(`worker "${name}": ${field} names "${other}", which is not registered`);
      }
    }
  }
  if (problems.length > 0) return problems;
  const cycle = problemOf(() => validateGraph(nodes));
  return cycle === undefined ? [] : [cycle];
}

/**
 * Loads `file` (as the user named it; relative to the current directory) and validates all of it.
 * Throws a {@link ConfigError} listing every problem found, or returns a config that registers and
 * starts cleanly (short of a store that cannot be opened).
 */
export async function loadConfig(
  file: string,
  { timeoutMs = DEFAULT_CONFIG_TIMEOUT_MS }: { timeoutMs?: number } = {},
): Promise<CorralConfig> {
  const absolute = resolve(file);
  const configDir = dirname(absolute);
  const raw = await readRaw(file, absolute, timeoutMs);
  const problems: string[] = [];

  if (!isPlainObject(raw)) {
    throw new ConfigError(file, [
      `the config must be an object { orchestrator?, cluster?, http?, workers }, got ${show(raw)}`,
    ]);
  }
  for (const key of Object.keys(raw)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      problems.push(`unknown top-level key "${key}" (known: ${TOP_LEVEL_KEYS.join(', ')})`);
    }
  }

  // orchestrator: the library validates the values; the CLI owns the logger, tests own the clock.
  let orchestrator: ConfigOrchestratorOptions = {};
  if (raw.orchestrator !== undefined) {
    if (!isPlainObject(raw.orchestrator)) {
      problems.push(`orchestrator must be an object of orchestrator options, got ${show(raw.orchestrator)}`);
    } else {
      const given = { ...raw.orchestrator };
      for (const key of ['logger', 'clock']) {
        if (key in given) {
          problems.push(
            `orchestrator: ${key} cannot be set in a config file (corral run logs with pino; see --log-level)`,
          );
          delete given[key];
        }
      }
      // A store path is relative to the config file, like the worker modules.
      if (typeof given.store === 'string' && given.store !== 'memory' && given.store !== '') {
        given.store = resolve(configDir, given.store);
      }
      orchestrator = given as ConfigOrchestratorOptions;
    }
  }

  // cluster: the library validates it (README: "Running on several machines"); one config on N machines
  // forms one cluster.
  if (raw.cluster !== undefined) {
    if (orchestrator.cluster !== undefined) {
      problems.push('cluster is given twice: at the top level and in orchestrator (keep one)');
    } else {
      orchestrator = { ...orchestrator, cluster: raw.cluster as ClusterOptions };
    }
  }

  const http = checkHttp(raw.http, problems);

  const workers: WorkerEntry[] = [];
  if (raw.workers === undefined) {
    problems.push('workers is missing: give an object { [name]: { module: "./worker.mjs", ...options } }');
  } else if (!isPlainObject(raw.workers)) {
    problems.push(`workers must be an object { [name]: { module, ...options } }, got ${show(raw.workers)}`);
  } else if (Object.keys(raw.workers).length === 0) {
    problems.push('workers is empty: name at least one worker');
  } else {
    for (const [name, entry] of Object.entries(raw.workers)) {
      const where = `worker "${name}": `;
      if (!isPlainObject(entry)) {
        problems.push(`${where}must be an object { module, ...options }, got ${show(entry)}`);
        continue;
      }
      const { module, ...options } = entry;
      if (typeof module !== 'string' || module === '') {
        problems.push(
          `${where}module must be the path of the worker's module (relative to the config file), got ${show(module)}`,
        );
        continue;
      }
      workers.push({
        name,
        module: resolveModule(configDir, module),
        options: normalizeWorkerOptions(options) as WorkerOptions,
      });
    }
  }

  // The library's own checks, on orchestrators that are never started.
  problems.push(...optionProblems(orchestrator));
  for (const worker of workers) problems.push(...workerProblems(worker));
  problems.push(...graphProblems(workers));

  if (problems.length > 0) throw new ConfigError(file, problems);
  return { file, orchestrator, http, workers };
}
