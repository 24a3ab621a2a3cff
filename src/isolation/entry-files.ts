import { fileURLToPath } from 'node:url';

/**
 * The runtime entries that run inside threads and children. When corral itself runs from TypeScript
 * source (its own tests), the entries are `.ts` and the sandbox needs the host's loader flags.
 */
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/**
 * Built, each entry is bundled as one CommonJS file (scripts/bundle-entries.mjs), which loads
 * synchronously: no ES module graph to go through Node's asynchronous loader in every new thread or
 * child. From TypeScript source, the entry itself, loaded through the host's loader (tsx), which the
 * sandbox inherits.
 */
const entryPath = (entry: string): string =>
  fileURLToPath(new URL(extension === '.ts' ? `./${entry}.ts` : `./${entry}.cjs`, import.meta.url));

/** What piscina requires in each thread. */
export const threadEntryPath = entryPath('thread-entry');
/** What each child process runs. */
export const childEntryPath = entryPath('child-entry');

/** Flags of the host that load code (e.g. `--import tsx`); the sandboxes inherit them. */
function hostLoaderFlags(): string[] {
  const flags: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (/^--(import|require|loader|experimental-loader)$/.test(arg) && i + 1 < argv.length) {
      flags.push(arg, argv[i + 1] as string);
      i++;
    } else if (/^(--(import|require|loader|experimental-loader)=|-r)/.test(arg)) {
      flags.push(arg);
      if (arg === '-r' && i + 1 < argv.length) flags.push(argv[++i] as string);
    }
  }
  return flags;
}

/**
 * Node flags for a sandbox: the worker's own, else the host's less those that would make the child do
 * something else than run its entry (`-e`, `-p`, `--test`, `--watch`, ...) or clash (`--inspect` ports).
 */
export function sandboxExecArgv(execArgv: readonly string[] | undefined): string[] {
  if (execArgv === undefined) return inheritableHostFlags();
  return extension === '.ts' ? [...hostLoaderFlags(), ...execArgv] : [...execArgv];
}

/** Host flags that take the next argument as their value when not written as `--flag=value`. */
const FLAGS_WITH_VALUE =
  /^(-e|--eval|-p|--print|-r|--require|--import|--loader|--experimental-loader|--input-type|--test-name-pattern|--test-reporter|--test-reporter-destination|--watch-path)$/;
const NOT_INHERITED =
  /^(-e|--eval|-p|--print|-i|--interactive|-c|--check|--input-type|--test|--watch|--inspect|--debug)(-|=|$)/;

function inheritableHostFlags(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const takesValue = FLAGS_WITH_VALUE.test(arg) && i + 1 < argv.length;
    if (NOT_INHERITED.test(arg)) {
      if (takesValue) i++;
      continue;
    }
    out.push(arg);
    if (takesValue) out.push(argv[++i] as string);
  }
  return out;
}
