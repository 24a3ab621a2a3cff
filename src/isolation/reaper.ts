import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * A tiny `/bin/sh` process, one per orchestrator, that SIGKILLs the process groups of the child
 * sandboxes if the host dies. It learns the groups over its stdin ("+pgid" / "-pgid" lines); the host's
 * death closes that pipe (the kernel closes it even on SIGKILL), and at EOF it kills what is listed.
 * It is the watcher off the children's main threads that a child stuck in synchronous code needs,
 * for about 1 MiB in all instead of a watcher thread (≈9 MiB) in every child.
 */
const SCRIPT = `
trap '' INT TERM HUP
groups=' '
while IFS= read -r line; do
  case "$line" in
    +*) groups="$groups\${line#+} " ;;
    -*) gone="\${line#-}"; kept=' '
        for g in $groups; do [ "$g" = "$gone" ] || kept="$kept$g "; done
        groups="$kept" ;;
  esac
done
for g in $groups; do kill -KILL -"$g" 2>/dev/null; done
`;

export class Reaper {
  #process: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  readonly #groups = new Set<number>();

  /** Watches process group `pgid` until {@link release}. */
  watch(pgid: number): void {
    this.#groups.add(pgid);
    this.#write(`+${pgid}\n`);
  }

  release(pgid: number): void {
    if (this.#groups.delete(pgid)) this.#write(`-${pgid}\n`);
  }

  /** Ends the reaper (nothing left to watch) and waits until it has exited. */
  async close(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    this.#groups.clear();
    if (child !== undefined) child.stdin?.end();
    await this.#exited;
  }

  #write(line: string): void {
    this.#ensure().stdin?.write(line);
  }

  #ensure(): ChildProcess {
    if (this.#process !== undefined) return this.#process;
    const child = spawn('/bin/sh', ['-c', SCRIPT], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
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
