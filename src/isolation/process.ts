import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { deserializeError, notRetryable } from '../errors.ts';
import { containSandbox, type SandboxContainment } from './containment.ts';
import { childEntryPath, sandboxExecArgv } from './entry-files.ts';
import { forwardLines } from './output.ts';
import { type AttemptTask, type ParentMessage, packTask, type SandboxMessage } from './protocol.ts';
import type { Reaper } from './reaper.ts';
import type { AttemptHooks, ProcessProbe, Sandbox, SandboxOutcome } from './sandbox.ts';

export interface ProcessSandboxOptions {
  modulePath: string;
  execArgv: readonly string[] | undefined;
  env: Readonly<Record<string, string>> | undefined;
  killGraceMs: number;
  reaper: Reaper;
  onOutput(stream: 'stdout' | 'stderr', line: string): void;
  onOutputDropped(stream: 'stdout' | 'stderr', count: number): void;
}

interface Current {
  /** The run sequence number the attempt's messages carry. */
  runSeq: number;
  hooks: AttemptHooks;
  settle(outcome: SandboxOutcome): void;
}

/**
 * What keeps the host's event loop alive while any process sandbox is busy or being ended: one timer,
 * referenced while that count is above zero. The children and their IPC channels stay unreferenced, so
 * an idle sandbox never holds the host open, and under load (attempts following each other on a
 * sandbox, or on another one still busy) nothing is switched per run.
 */
let holding = 0;
let keepAlive: NodeJS.Timeout | undefined;

function holdHost(): void {
  if (holding++ > 0) return;
  keepAlive ??= setInterval(() => undefined, 2 ** 30);
  keepAlive.ref();
}

function releaseHost(): void {
  if (--holding > 0) return;
  keepAlive?.unref();
}

/**
 * A child process running `child-entry`, reused across attempts. It is forked `detached`, so it leads
 * its own session and process group, and it is contained (a cgroup of its own, else process groups and a
 * process-table snapshot): ending it ends everything it started, and the orchestrator's reaper does the
 * same if the host dies.
 */
export class ProcessSandbox implements Sandbox, ProcessProbe {
  readonly kind = 'process';
  readonly probe = this;
  #runs = 0;
  #usable = true;
  #exited = false;
  #current: Current | undefined;
  #ending: Promise<void> | undefined;
  /** The child reported its module loaded: an attempt sent now calls the worker function at once. */
  #loaded = false;
  /** This sandbox counts among those holding the host open (see `holdHost`). */
  #held = false;
  readonly #child: ChildProcess;
  readonly #exit: Promise<unknown>;
  readonly #options: ProcessSandboxOptions;
  readonly #containment: SandboxContainment;

  constructor(options: ProcessSandboxOptions) {
    this.#options = options;
    const containment = containSandbox(options.reaper);
    this.#containment = containment;
    const plan = containment.forkPlan(sandboxExecArgv(options.execArgv));
    let child: ChildProcess;
    try {
      child = fork(childEntryPath, [options.modulePath], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        serialization: 'advanced',
        execPath: plan.execPath,
        execArgv: plan.execArgv,
        env: { ...(options.env ?? process.env), ...plan.env },
      });
    } catch (error) {
      void containment.end(Promise.resolve(), () => true, 0);
      throw error;
    }
    this.#child = child;
    this.#exit = once(child, 'exit').catch(() => undefined);
    if (child.pid !== undefined) {
      containment.attach(child.pid);
      options.reaper.watch(child.pid);
    }
    child.on('message', (message: SandboxMessage) => this.#onMessage(message));
    child.on('exit', (code, signal) => this.#onExit(code, signal));
    child.on('error', (error) =>
      this.#fail(new Error(`child process error: ${error.message}`, { cause: error })),
    );
    if (child.stdout !== null) {
      forwardLines(
        child.stdout,
        (line) => options.onOutput('stdout', line),
        (n) => options.onOutputDropped('stdout', n),
      );
    }
    if (child.stderr !== null) {
      forwardLines(
        child.stderr,
        (line) => options.onOutput('stderr', line),
        (n) => options.onOutputDropped('stderr', n),
      );
    }
    // The child and its channel never hold the host open themselves: a busy or ending sandbox does
    // through the shared hold (see #hold), so that no ref and unref of handles is paid per run.
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Keeps the host's event loop alive while an attempt runs or the child is being ended. */
  #hold(on: boolean): void {
    if (on === this.#held) return;
    this.#held = on;
    if (on) holdHost();
    else releaseHost();
  }

  get runs(): number {
    return this.#runs;
  }

  get usable(): boolean {
    return this.#usable && !this.#exited;
  }

  get pid(): number | undefined {
    return this.#exited ? undefined : this.#child.pid;
  }

  get cgroup(): string | undefined {
    return this.#containment.cgroup;
  }

  run(task: AttemptTask, hooks: AttemptHooks): Promise<SandboxOutcome> {
    this.#runs++;
    this.#hold(true);
    return new Promise<SandboxOutcome>((resolve) => {
      const settle = (outcome: SandboxOutcome) => {
        if (this.#ending === undefined) this.#hold(false);
        resolve(outcome);
      };
      this.#current = { runSeq: task.id, hooks, settle };
      if (this.#exited || !this.#child.connected) {
        this.#fail(new Error('could not send the attempt to the child process (IPC channel closed)'));
        return;
      }
      try {
        this.#child.send(packTask(task) satisfies ParentMessage);
        // A loaded child calls the worker function as the attempt arrives: the heartbeat clock starts
        // now. A fresh child's first attempt starts it when `loaded` comes (the load is not watched).
        if (this.#loaded) hooks.onStarted();
      } catch (error) {
        // Serialization failed before anything was sent: the child is fine and stays usable.
        this.#current = undefined;
        const cause = error instanceof Error ? error : new Error(String(error));
        settle({
          ok: false,
          reason: 'error',
          error: notRetryable(`the payload cannot be sent to the child process: ${cause.message}`, cause),
        });
      }
    });
  }

  abort(runSeq: number): void {
    this.#send(['abort', runSeq]);
  }

  terminate(): Promise<void> {
    this.#usable = false;
    this.#ending ??= this.#end(this.#options.killGraceMs);
    return this.#ending;
  }

  close(): Promise<void> {
    if (this.#ending !== undefined) return this.#ending;
    this.#usable = false;
    this.#ending = (async () => {
      this.#hold(true);
      if (!this.#exited && this.#child.connected) {
        // Before the child may exit: once it is gone, what it started is re-parented and out of reach
        // of a walk from it (process-group containment; a cgroup needs no snapshot).
        await this.#containment.beforeExit();
        if (this.#send(['exit'])) {
          await Promise.race([this.#exit, sleep(this.#options.killGraceMs, undefined, { ref: false })]);
        }
      }
      // Whatever the child left behind (or the child itself, if it did not exit) goes now.
      await this.#end(0);
    })();
    return this.#ending;
  }

  async #end(graceMs: number): Promise<void> {
    const pid = this.#child.pid;
    this.#hold(true);
    await this.#containment.end(
      pid === undefined ? Promise.resolve() : this.#exit,
      () => this.#exited,
      graceMs,
    );
    if (pid !== undefined) this.#options.reaper.release(pid);
    this.#hold(false);
  }

  #send(message: ParentMessage): boolean {
    if (this.#exited || !this.#child.connected) return false;
    try {
      this.#child.send(message);
      return true;
    } catch {
      return false;
    }
  }

  #onMessage(message: SandboxMessage): void {
    const current = this.#current;
    if (message[0] === 'loaded') {
      this.#loaded = true;
      // Sent before `loaded` came, so waiting for the load: its worker function is being called now.
      current?.hooks.onStarted();
      return;
    }
    if (current === undefined || message[0] === 'heap' || message[1] !== current.runSeq) return;
    switch (message[0]) {
      case 'heartbeat':
        current.hooks.onHeartbeat();
        break;
      case 'ok':
        this.#current = undefined;
        current.settle({ ok: true, value: message[2] });
        break;
      case 'failed':
        this.#current = undefined;
        if (message[2] === 'load') this.#usable = false;
        current.settle({ ok: false, reason: message[2], error: deserializeError(message[3]) });
        break;
    }
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.#exited = true;
    this.#usable = false;
    const how = signal === null ? `exited with code ${code}` : `was killed by signal ${signal}`;
    this.#fail(new Error(`child process ${this.#child.pid} ${how}`));
  }

  #fail(error: Error): void {
    this.#usable = false;
    const current = this.#current;
    this.#current = undefined;
    current?.settle({ ok: false, reason: 'crash', error });
  }
}
