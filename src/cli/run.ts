// `corral run <config>`: validates the config (exit 2 on a problem, nothing started), opens the HTTP
// API if the config has `http`, starts the orchestrator, and stops it gracefully on SIGINT / SIGTERM,
// printing the StopReport (exit 0). A second signal exits at once (130 for SIGINT, 143 for SIGTERM):
// the library's reaper still kills the children's process groups.
//
// stdout carries the CLI's own lines (for people and scripts):
//   corral: listening on http://127.0.0.1:7070
//   corral: started 3 workers (a, b, c)
//   corral: stopping gracefully (SIGTERM); a second SIGTERM exits at once
//   corral: stopped {"completed":[...],"terminated":[],"requeued":0,"dropped":0}
// stderr carries the pino log (JSON lines; pretty on a terminal if pino-pretty is installed).
import { WorkerOrchestrator } from '../orchestrator.ts';
import type { StopReport } from '../types.ts';
import { type CorralConfig, loadConfig } from './config.ts';
import { CliError, EXIT, errorMessage } from './errors.ts';
import { createLogger, type LogLevel } from './logger.ts';

export interface RunOptions {
  logLevel: LogLevel;
  /** How long the config module may take to give its config. */
  configTimeoutMs?: number | undefined;
}

function say(line: string): void {
  process.stdout.write(`corral: ${line}\n`);
}

/** One line for people and scripts: the report as JSON after a fixed prefix. */
export function formatStopReport(report: StopReport): string {
  return `stopped ${JSON.stringify(report)}`;
}

/** Waits for the first SIGINT / SIGTERM; a second one exits the process at once. */
function untilSignal(): { signalled: Promise<NodeJS.Signals>; dispose(): void } {
  let first: NodeJS.Signals | undefined;
  let resolve!: (signal: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((r) => {
    resolve = r;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (first === undefined) {
      first = signal;
      resolve(signal);
      return;
    }
    process.stderr.write(`\ncorral: ${signal} again: exiting without waiting for the graceful stop\n`);
    process.exit(signal === 'SIGINT' ? EXIT.INTERRUPTED : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signalled,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export async function runCommand(file: string, options: RunOptions): Promise<number> {
  // Everything is validated before anything starts: a ConfigError (exit 2) leaves nothing behind.
  const config: CorralConfig = await loadConfig(
    file,
    options.configTimeoutMs === undefined ? {} : { timeoutMs: options.configTimeoutMs },
  );
  const logger = await createLogger(options.logLevel);
  const orch = new WorkerOrchestrator({ ...config.orchestrator, logger });
  for (const worker of config.workers) orch.registerWorker(worker.name, worker.module, worker.options);

  // Handlers first: a signal while starting still stops gracefully once started.
  const signals = untilSignal();
  let server: { url: string; close(): Promise<void> } | undefined;
  try {
    if (config.http !== undefined) {
      const { port, host, token } = config.http;
      try {
        server = await orch.listen({ port, host, ...(token === undefined ? {} : { token }) });
      } catch (error) {
        throw new CliError(`cannot listen on ${host}:${port}: ${errorMessage(error)}`, EXIT.FAILURE, {
          cause: error,
        });
      }
      const url = server.url.replace(/\/$/, '');
      logger.info({ url }, 'HTTP API listening');
      say(`listening on ${url}`);
      if (token === undefined) {
        logger.warn('http has no token: the HTTP API refuses every mutation (trigger, enable, replay, ...)');
      }
    } else {
      say('no http in the config: the HTTP API is off, so client commands cannot reach this instance');
    }

    try {
      await orch.start();
    } catch (error) {
      throw new CliError(`cannot start: ${errorMessage(error)}`, EXIT.FAILURE, { cause: error });
    }
    const names = config.workers.map((w) => w.name);
    say(`started ${names.length} worker${names.length === 1 ? '' : 's'} (${names.join(', ')})`);

    const signal = await signals.signalled;
    say(`stopping gracefully (${signal}); a second ${signal} exits at once`);
    const report = await orch.stop();
    await closeServer(server);
    server = undefined;
    say(formatStopReport(report));
    // stop() resolved, so no thread or child is left and the event loop should drain by itself. If
    // something still holds it (a leak), say so and exit rather than hang.
    setTimeout(() => {
      process.stderr.write('corral: the event loop is still busy 5 s after the stop; exiting anyway\n');
      process.exit(EXIT.OK);
    }, 5000).unref();
    return EXIT.OK;
  } catch (error) {
    // A failure after the config was accepted (port taken, store locked): undo what was started.
    await orch.stop().catch(() => {});
    await closeServer(server);
    throw error;
  } finally {
    signals.dispose();
  }
}

/** Closes the HTTP server, giving up after 2 s (a client holding a connection must not block the exit). */
async function closeServer(server: { close(): Promise<void> } | undefined): Promise<void> {
  if (server === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    server.close().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2000);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
