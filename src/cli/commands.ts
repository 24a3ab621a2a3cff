// The client commands: they call the HTTP API of a running `corral run` and print what it says.
// Each returns its exit code or throws a CliError (client.ts maps every failure to one).
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type ClientOptions, type DeadLetterQuery, type StatusResponse } from './client.ts';
import { renderDeadLetterTable } from './dead-letter-table.ts';
import { CliError, EXIT } from './errors.ts';
import { renderStatusTable, type WorkerColumnsLike } from './status-table.ts';

export interface OutputOptions {
  json?: boolean | undefined;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function printJson(value: unknown): void {
  print(JSON.stringify(value ?? {}, null, 2));
}

/** The table of `corral status`: each worker's entry in GET /status carries its mode and isolation. */
export function statusTable(status: StatusResponse): string {
  // Null prototype: a worker may be named "__proto__" or "constructor".
  const configs: Record<string, WorkerColumnsLike> = Object.create(null);
  for (const [name, w] of Object.entries(status.workerStates)) {
    const mode = w.executionMode ?? w.mode;
    configs[name] = {
      executionMode: typeof mode === 'string' ? mode : undefined,
      isolation: typeof w.isolation === 'string' ? w.isolation : undefined,
    };
  }
  return renderStatusTable(status, configs);
}

/** Parses `--payload`: any JSON value. */
export function parsePayload(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(
      `--payload must be JSON (e.g. '{"id":1}' or '"text"'): ${(error as Error).message}`,
      EXIT.USAGE,
    );
  }
}

export async function status(
  client: Client,
  options: OutputOptions & { watch?: boolean | undefined },
): Promise<number> {
  if (options.watch !== true) {
    const s = await client.status();
    if (options.json === true) printJson(s);
    else print(statusTable(s));
    return EXIT.OK;
  }
  return watch(client, options.json === true);
}

/**
 * `status --watch`: refreshes every second until Ctrl-C / SIGTERM (exit 0). On a terminal the screen
 * is redrawn in place (ANSI home + clear); into a pipe or a file each refresh is appended (`--json`:
 * one JSON line per refresh). A server that goes away is reported and retried; a refused token ends it.
 */
async function watch(client: Client, json: boolean): Promise<number> {
  const tty = process.stdout.isTTY === true && !json;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop.signal.aborted) {
      const time = new Date().toISOString().slice(11, 19);
      let body: string;
      try {
        const s = await client.status();
        body = json ? JSON.stringify({ at: new Date().toISOString(), status: s }) : statusTable(s);
      } catch (error) {
        if (!(error instanceof CliError) || error.exitCode === EXIT.AUTH || error.exitCode === EXIT.USAGE) {
          throw error;
        }
        if (!tty) process.stderr.write(`corral: ${time} ${error.message} (retrying)\n`);
        body = tty ? `${error.message}\n(retrying every second)` : '';
      }
      if (tty) {
        const title = `corral status --watch — ${client.url} — ${time} (Ctrl-C to quit)`;
        process.stdout.write(`\x1b[H\x1b[2J${title}\n\n${body}\n`);
      } else if (body !== '') {
        print(json ? body : `${time}\n${body}\n`);
      }
      try {
        await sleep(1000, undefined, { signal: stop.signal });
      } catch {
        // aborted: Ctrl-C
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return EXIT.OK;
}

export async function trigger(
  client: Client,
  name: string,
  options: OutputOptions & { payload?: string | undefined },
): Promise<number> {
  const payload = parsePayload(options.payload);
  const answer = await client.trigger(name, payload);
  if (options.json === true) printJson(answer);
  else print(`corral: triggered "${name}" (queued; see \`corral status\`)`);
  return EXIT.OK;
}

export async function setEnabled(
  client: Client,
  name: string,
  enabled: boolean,
  options: OutputOptions,
): Promise<number> {
  const answer = enabled ? await client.enable(name) : await client.disable(name);
  if (options.json === true) printJson(answer);
  else print(`corral: ${enabled ? 'enabled' : 'disabled'} "${name}"`);
  return EXIT.OK;
}

export async function listDeadLetters(
  client: Client,
  options: OutputOptions & DeadLetterQuery,
): Promise<number> {
  const list = await client.deadLetters(options);
  if (options.json === true) printJson(list);
  else print(renderDeadLetterTable(list, { payload: options.payload === true }));
  return EXIT.OK;
}

export async function replayDeadLetter(client: Client, id: string, options: OutputOptions): Promise<number> {
  const answer = await client.replay(id);
  if (options.json === true) {
    printJson(answer);
  } else {
    const result = (answer as { result?: unknown } | undefined)?.result;
    const shown = result === undefined ? '' : `: ${JSON.stringify(result)}`;
    print(`corral: dead letter ${id} replayed and succeeded (removed from the queue)${shown}`);
  }
  return EXIT.OK;
}

export async function removeDeadLetter(client: Client, id: string, options: OutputOptions): Promise<number> {
  const answer = await client.remove(id);
  if (options.json === true) printJson(answer);
  else print(`corral: dead letter ${id} removed`);
  return EXIT.OK;
}

export function makeClient(options: { url: string; token?: string | undefined; timeout: number }): Client {
  const clientOptions: ClientOptions = {
    url: options.url,
    token: options.token,
    timeoutMs: Math.round(options.timeout * 1000),
  };
  return new Client(clientOptions);
}
