import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';

/** Synchronous kills (signals only) to send if this process ends while what they stop still runs. */
const killers = new Set<() => void>();
let installed = false;

/**
 * Runs `kill` if this process ends before the returned release is called: at its exit, or on SIGINT /
 * SIGTERM (then re-raised, so that the default action still ends the process). `kill` must be
 * synchronous: only signals can be sent then.
 */
export function killAtExit(kill: () => void): () => void {
  if (!installed) {
    installed = true;
    const all = () => {
      for (const k of [...killers]) {
        try {
          k();
        } catch {}
      }
      killers.clear();
    };
    process.on('exit', all);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        all();
        process.kill(process.pid, signal);
      });
    }
  }
  killers.add(kill);
  return () => killers.delete(kill);
}

/** A message a host process sent over IPC. */
export type HostMessage = { type: string } & Record<string, unknown>;

/** A host process (a benchmark fixture) driven over IPC: ready once it says so, stopped by pid. */
export interface HostProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves once the host sent `{ type: 'ready' }`; rejects if it failed to start or exited first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  /** SIGTERM (a graceful stop), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Forks `script` (plain JavaScript: no loader flags) as a process in a session of its own (`detached`,
 * as a host on a machine of its own would be scheduled: see peers.bench.ts), with `args`; `onMessage`
 * gets every message but `ready` / `start-failed`. It is sent SIGTERM if this process ends first.
 */
export function forkHost(
  name: string,
  script: string,
  args: string[],
  onMessage: (message: HostMessage) => void = () => undefined,
): HostProcess {
  const child = fork(script, args, {
    execArgv: [],
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit').then(
    () => undefined,
    () => undefined,
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const release = killAtExit(() => {
    if (alive()) child.kill('SIGTERM');
  });
  void exited.then(release);
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: HostMessage) => {
      if (message.type === 'ready') resolve();
      else if (message.type === 'start-failed') reject(new Error(`${name}: ${String(message.error)}`));
      else onMessage(message);
    });
    void exited.then(() => reject(new Error(`${name} exited before it was ready`)));
  });
  ready.catch(() => undefined); // also awaited by the caller
  return {
    name,
    child,
    ready,
    exited,
    async stop(graceMs = 15_000) {
      if (!alive()) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          if (alive()) child.kill('SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([exited, killed]);
      clearTimeout(timer);
      await exited;
    },
  };
}
