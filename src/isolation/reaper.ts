import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { CgroupTree, type Containment, cgroupParent, containmentMechanism } from './cgroup.ts';

/** The environment variable that marks the processes of a sandbox (process-group containment). */
export const MARK_VARIABLE = 'CORRAL_SANDBOX';

/**
 * A tiny `/bin/sh` process, one per orchestrator, that kills what the child sandboxes started if the host
 * dies. It learns the children's process groups over its stdin ("+pgid" / "-pgid" lines); the host's
 * death closes that pipe (the kernel closes it even on SIGKILL), and at EOF it kills:
 * - with cgroups ($1: the orchestrator's cgroup), everything in it through `cgroup.kill`, then removes
 *   the sandboxes' cgroups and its own;
 * - the listed process groups;
 * - the processes whose environment carries the orchestrator's mark ($2), found with one grep over
 *   /proc/<pid>/environ: they left the groups (setsid, double forks) and were re-parented.
 * A "q" line ends it without killing anything (an orderly stop).
 * It is the watcher off the children's main threads that a child stuck in synchronous code needs,
 * for about 1 MiB in all instead of a watcher thread (≈9 MiB) in every child.
 */
const SCRIPT = `
trap '' INT TERM HUP
cg="$1"; mark="$2"
groups=' '
while IFS= read -r line; do
  case "$line" in
    q) exit 0 ;;
    +*) groups="$groups\${line#+} " ;;
    -*) gone="\${line#-}"; kept=' '
        for g in $groups; do [ "$g" = "$gone" ] || kept="$kept$g "; done
        groups="$kept" ;;
  esac
done
[ -n "$cg" ] && echo 1 > "$cg/cgroup.kill" 2>/dev/null
for g in $groups; do kill -KILL -"$g" 2>/dev/null; done
if [ -n "$mark" ]; then
  for f in $(grep -lsaF "$mark" /proc/[0-9]*/environ 2>/dev/null); do
    p="\${f#/proc/}"; kill -KILL "\${p%/environ}" 2>/dev/null
  done
fi
if [ -n "$cg" ]; then
  i=0
  while [ "$i" -lt 50 ]; do
    for d in "$cg"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
    rmdir "$cg" 2>/dev/null && break
    sleep 0.1; i=$((i + 1))
  done
fi
`;

/**
 * What makes sure nothing an orchestrator's child sandboxes started outlives them: the containment
 * mechanism (chosen once, when the orchestrator is made), its cgroups, the mark of its sandboxes, and the
 * reaper process for the host's death.
 */
export class Reaper {
  /** `cgroup` where a writable cgroup v2 hierarchy allows it, else `process-group`. */
  readonly containment: Containment = containmentMechanism();
  /** The orchestrator's cgroups (cgroup containment only). */
  readonly cgroups: CgroupTree | undefined;
  /** The prefix of the mark ("CORRAL_SANDBOX=<token>.") each sandbox's own mark starts with. */
  readonly markPrefix = `${MARK_VARIABLE}=${process.pid}-${randomBytes(6).toString('hex')}.`;
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #marks = 0;
  readonly #groups = new Set<number>();

  constructor() {
    const parent = this.containment === 'cgroup' ? cgroupParent() : undefined;
    this.cgroups = parent === undefined ? undefined : new CgroupTree(parent);
  }

  /** A new sandbox's mark: "CORRAL_SANDBOX=<token>.<n>". */
  nextMark(): string {
    return `${this.markPrefix}${++this.#marks}`;
  }

  /** Watches process group `pgid` until {@link release}. */
  watch(pgid: number): void {
    this.#groups.add(pgid);
    this.#write(`+${pgid}\n`);
  }

  release(pgid: number): void {
    if (this.#groups.delete(pgid)) this.#write(`-${pgid}\n`);
  }

  /** Ends the reaper (nothing left to watch), waits until it has exited, and removes the cgroups. */
  async close(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    this.#groups.clear();
    if (child !== undefined) child.stdin?.end('q\n');
    await this.#exited;
    await this.cgroups?.close();
  }

  #write(line: string): void {
    this.#ensure().stdin?.write(line);
  }

  #ensure(): ChildProcess {
    if (this.#process !== undefined) return this.#process;
    const cgroup = this.cgroups?.dir ?? '';
    const mark = this.containment === 'process-group' ? this.markPrefix : '';
    const child = spawn('/bin/sh', ['-c', SCRIPT, 'corral-reaper', cgroup, mark], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    // It must not keep the host alive: it is there for when the host is gone.
    child.unref();
    (child.stdin as Socket | null)?.unref();
    child.stdin?.on('error', () => {
      // The reaper is gone (killed by hand): the children's own disconnect handler still covers most cases.
    });
    this.#process = child;
    return child;
  }
}
