/**
 * How one child sandbox is contained, so that no process it started outlives it, whichever way it ends
 * (timeout, crash, recycle, idle close, stop; the host's death is the reaper's part). Two mechanisms, as
 * the README's "Containment" section describes: a cgroup v2 of its own where the machine allows it, else
 * process groups with a snapshot of the process table.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { killCgroup, removeCgroup, signalCgroup, waitCgroupEmpty } from './cgroup.ts';
import { snapshotTree, type TreeScope, type TreeSnapshot, terminateProcessTree } from './process-tree.ts';
import { hasProcFs, readStat } from './procfs.ts';
import { MARK_VARIABLE, type Reaper } from './reaper.ts';

/** What fork() needs to start the child inside the containment. */
export interface ForkPlan {
  /** The program to exec instead of node (a wrapper that execs node), if any. */
  execPath: string;
  /** Arguments before the entry script. */
  execArgv: string[];
  /** Entries added to the child's environment. */
  env: Record<string, string>;
}

export interface SandboxContainment {
  readonly kind: 'cgroup' | 'process-group';
  /** The sandbox's cgroup directory (cgroup containment only). */
  readonly cgroup: string | undefined;
  /** How to fork a child with node flags `execArgv` so that it is contained from its first instruction. */
  forkPlan(execArgv: readonly string[]): ForkPlan;
  /** The child was forked with pid `pid`. */
  attach(pid: number): void;
  /** The child is about to be asked to exit: record what it started while that can still be seen. */
  beforeExit(): Promise<void>;
  /**
   * Ends the child and everything it started: SIGTERM, then SIGKILL after `graceMs` (at once when 0).
   * Resolves when all of it is gone (and the cgroup removed).
   */
  end(exited: Promise<unknown>, isExited: () => boolean, graceMs: number): Promise<void>;
}

/** The containment of a new child sandbox of the orchestrator that owns `reaper`. */
export function containSandbox(reaper: Reaper): SandboxContainment {
  const cgroups = reaper.cgroups;
  return cgroups === undefined
    ? new GroupContainment(reaper.nextMark())
    : new CgroupContainment(cgroups.create());
}

/**
 * Puts the child in its cgroup before node even starts: /bin/sh writes its own pid to `cgroup.procs`
 * and then execs node (same pid), so the child cannot start anything — not even from a `--require`
 * or `--import` hook in its flags — before it is in the cgroup. The alternative, the child entry
 * moving itself there first thing with the host awaiting its word, leaves the node flags' hooks
 * outside and costs a round trip per sandbox; the wrapper costs one exec of /bin/sh. If the move fails
 * the child exits with code 71 and says why on stderr.
 */
const CGROUP_WRAPPER =
  'echo $$ > "$0/cgroup.procs" || { echo "corral: cannot enter the cgroup $0" >&2; exit 71; }; exec "$@"';

class CgroupContainment implements SandboxContainment {
  readonly kind = 'cgroup';
  readonly cgroup: string;

  constructor(dir: string) {
    this.cgroup = dir;
  }

  forkPlan(execArgv: readonly string[]): ForkPlan {
    return {
      execPath: '/bin/sh',
      execArgv: ['-c', CGROUP_WRAPPER, this.cgroup, process.execPath, ...execArgv],
      env: {},
    };
  }

  attach(): void {
    // Nothing to note: the cgroup holds everything.
  }

  beforeExit(): Promise<void> {
    // Nothing started in the cgroup can leave it: no snapshot needed.
    return Promise.resolve();
  }

  async end(exited: Promise<unknown>, _isExited: () => boolean, graceMs: number): Promise<void> {
    const dir = this.cgroup;
    if (graceMs > 0) {
      signalCgroup(dir, 'SIGTERM');
      const graceOver = sleep(graceMs, undefined, { ref: false });
      await Promise.race([Promise.all([exited, waitCgroupEmpty(dir, graceMs)]), graceOver]);
    }
    killCgroup(dir);
    await exited;
    await removeCgroup(dir);
  }
}

class GroupContainment implements SandboxContainment {
  readonly kind = 'process-group';
  readonly cgroup = undefined;
  readonly #scope: TreeScope;
  #pid: number | undefined;
  #snapshot: TreeSnapshot | undefined;

  constructor(mark: string) {
    this.#scope = { mark: hasProcFs ? mark : undefined, since: 0 };
  }

  forkPlan(execArgv: readonly string[]): ForkPlan {
    const value = (this.#scope.mark ?? '').slice(MARK_VARIABLE.length + 1);
    return {
      execPath: process.execPath,
      execArgv: [...execArgv],
      env: value === '' ? {} : { [MARK_VARIABLE]: value },
    };
  }

  attach(pid: number): void {
    this.#pid = pid;
    // Only processes started after the child can carry its mark: older ones are not read.
    this.#scope.since = readStat(pid)?.startTicks ?? 0;
  }

  async beforeExit(): Promise<void> {
    if (this.#pid !== undefined) this.#snapshot = await snapshotTree(this.#pid, true, this.#scope);
  }

  async end(exited: Promise<unknown>, isExited: () => boolean, graceMs: number): Promise<void> {
    if (this.#pid === undefined) return;
    await terminateProcessTree(this.#pid, exited, isExited, graceMs, this.#scope, this.#snapshot);
  }
}
