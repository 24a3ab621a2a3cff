import { isAbsolute, resolve } from 'node:path';
import { SqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

/** The `store` option as a Store: undefined for 'memory' (nothing to keep), SQLite for a path. */
export function resolveStore(option: 'memory' | string | Store | undefined): Store | undefined {
  if (option === undefined || option === 'memory') return undefined;
  if (typeof option === 'string')
    return new SqliteStore(isAbsolute(option) ? option : resolve(process.cwd(), option));
  return option;
}
