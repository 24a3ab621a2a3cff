import { fileURLToPath } from 'node:url';

/**
 * The runtime entries that run inside threads and children. When corral itself runs from TypeScript
 * source (its own tests), the entries are `.ts` and the sandbox needs the host's loader flags.
 */
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

export const threadEntryPath = fileURLToPath(new URL(`./thread-entry${extension}`, import.meta.url));
export const childEntryPath = fileURLToPath(new URL(`./child-entry${extension}`, import.meta.url));

/** Flags of the host that load code (e.g. `--import tsx`); the sandboxes inherit them. */
export function hostLoaderFlags(): string[] {
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

/** Node flags for a sandbox: the worker's own, else the host's without debugger flags (ports clash). */
export function sandboxExecArgv(execArgv: readonly string[] | undefined): string[] {
  if (execArgv === undefined) return process.execArgv.filter((arg) => !/^--(inspect|debug)/.test(arg));
  return extension === '.ts' ? [...hostLoaderFlags(), ...execArgv] : [...execArgv];
}
