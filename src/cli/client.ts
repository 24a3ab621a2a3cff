// The HTTP client of the commands that talk to a running `corral run` (status, trigger, enable,
// disable, dead-letters). It turns every way a call can fail into a CliError with its exit code and
// a message that says what to do.
import type { DeadLetter } from '../types.ts';
import { CliError, EXIT, errorMessage } from './errors.ts';
import type { StatusLike, WorkerColumnsLike, WorkerStateLike } from './status-table.ts';
import { plainText } from './terminal-text.ts';

export interface ClientOptions {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:7070 (a path prefix is kept). */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; mutations need it. */
  token?: string | undefined;
  /** Per request. */
  timeoutMs: number;
}

/** GET /status: getStatus() with each worker's `mode` (its executionMode), `isolation` and `history`. */
export interface StatusResponse extends StatusLike {
  workerStates: Record<
    string,
    WorkerStateLike & WorkerColumnsLike & { mode?: string | undefined } & Record<string, unknown>
  >;
}

/** What `corral dead-letters list` asks for. */
export interface DeadLetterQuery {
  worker?: string | undefined;
  /** Include each entry's payload (left out by default: they can be large). */
  payload?: boolean | undefined;
  /** At most this many entries. */
  limit?: number | undefined;
}

/** The largest page the API serves. */
const MAX_PAGE = 1000;

interface ErrorBody {
  error?: { code?: unknown; message?: unknown };
}

/** Why a fetch failed: the system error code under it (ECONNREFUSED, ENOTFOUND, ...), else its deepest message. */
function fetchFailure(error: unknown): string {
  let current: unknown = error;
  let message = errorMessage(error);
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const { code, message: text } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') return code;
    if (typeof text === 'string' && text !== '') message = text;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}

export class Client {
  readonly #base: URL;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: ClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new CliError(`--url must be an http(s) URL, got "${options.url}"`, EXIT.USAGE);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new CliError(`--url must be an http(s) URL, got "${options.url}"`, EXIT.USAGE);
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.#base = base;
    this.#token = options.token === '' ? undefined : options.token;
    this.#timeoutMs = options.timeoutMs;
  }

  /** The base URL, without a trailing slash. */
  get url(): string {
    return this.#base.href.replace(/\/$/, '');
  }

  status(): Promise<StatusResponse> {
    return this.#request<StatusResponse>('GET', 'status').then((body) => {
      if (typeof body !== 'object' || body === null || typeof body.workerStates !== 'object') {
        throw new CliError(
          `not a corral server: ${this.url}/status answered something else than its status`,
          EXIT.UNREACHABLE,
        );
      }
      return body;
    });
  }

  /**
   * GET /dead-letters, oldest first, page after page (the API gives at most 1000 a page): only those
   * of `worker` if given, at most `limit` of them, with their payloads if `payload`.
   */
  async deadLetters(options: DeadLetterQuery = {}): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let after: string | undefined;
    while (out.length < limit) {
      const query = new URLSearchParams({ limit: String(Math.min(MAX_PAGE, limit - out.length)) });
      if (options.worker !== undefined) query.set('worker', options.worker);
      if (options.payload === true) query.set('payload', '1');
      if (after !== undefined) query.set('after', after);
      const body = await this.#request<unknown>('GET', `dead-letters?${query}`);
      // A bare array: a corral from before pagination, which sends every entry at once.
      if (Array.isArray(body)) return (body as DeadLetter[]).slice(0, limit);
      const page = body as { deadLetters?: unknown; next?: unknown } | null;
      if (!Array.isArray(page?.deadLetters)) {
        throw new CliError(`${this.url}/dead-letters answered something that is not a list`, EXIT.FAILURE);
      }
      out.push(...(page.deadLetters as DeadLetter[]));
      if (typeof page.next !== 'string' || page.next === after) break;
      after = page.next;
    }
    return out.slice(0, limit);
  }

  trigger(name: string, payload: unknown): Promise<unknown> {
    return this.#request('POST', `workers/${encodeURIComponent(name)}/trigger`, payload);
  }

  enable(name: string): Promise<unknown> {
    return this.#request('POST', `workers/${encodeURIComponent(name)}/enable`);
  }

  disable(name: string): Promise<unknown> {
    return this.#request('POST', `workers/${encodeURIComponent(name)}/disable`);
  }

  replay(id: string): Promise<unknown> {
    return this.#request('POST', `dead-letters/${encodeURIComponent(id)}/replay`);
  }

  remove(id: string): Promise<unknown> {
    return this.#request('DELETE', `dead-letters/${encodeURIComponent(id)}`);
  }

  async #request<T>(method: string, path: string, payload?: unknown): Promise<T> {
    const url = new URL(path, this.#base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    let body: string | undefined;
    if (payload !== undefined) {
      body = JSON.stringify(payload);
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
        ...(body === undefined ? {} : { body }),
      });
      text = await response.text();
    } catch (error) {
      throw this.#unreachable(error);
    }

    let parsed: unknown;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (response.ok) {
      if (text !== '' && parsed === undefined) throw this.#notCorral(method, url, response);
      return parsed as T;
    }
    throw this.#httpError(method, url, response, parsed);
  }

  /** Every answer of corral is JSON, and every error `{ error: { code } }`: anything else is another server. */
  #notCorral(method: string, url: URL, response: Response): CliError {
    const type = response.headers.get('content-type')?.split(';')[0] ?? 'no content type';
    return new CliError(
      `not a corral server: ${method} ${url.href} answered HTTP ${response.status} (${type}), not corral's JSON. ` +
        'Is --url (or CORRAL_URL) the address of `corral run`, with its base path?',
      EXIT.UNREACHABLE,
    );
  }

  #unreachable(error: unknown): CliError {
    const name = (error as { name?: unknown } | null)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new CliError(
        `no answer from ${this.url} within ${this.#timeoutMs / 1000} s: raise --timeout for a long job ` +
          '(a replay waits for its run to end)',
        EXIT.UNREACHABLE,
        { cause: error },
      );
    }
    const reason = fetchFailure(error);
    return new CliError(
      `cannot reach corral at ${this.url} (${reason}): is \`corral run\` running there, with http in its config? ` +
        'Set the address with --url or CORRAL_URL.',
      EXIT.UNREACHABLE,
      { cause: error },
    );
  }

  #httpError(method: string, url: URL, response: Response, parsed: unknown): CliError {
    const { status } = response;
    const err = (parsed as ErrorBody | undefined)?.error;
    if (typeof err?.code !== 'string') return this.#notCorral(method, url, response);
    const code = plainText(err.code);
    // The server's words go to a terminal: no control sequence in them.
    const message = typeof err.message === 'string' ? plainText(err.message) : `HTTP ${status}`;
    const detail = `${message} (${code})`;
    if (status === 401) {
      return new CliError(
        `unauthorized: ${detail}. Give the token of \`corral run\`'s config with --token or CORRAL_TOKEN.`,
        EXIT.AUTH,
      );
    }
    if (status === 403 && code !== 'ERR_FORBIDDEN') return new CliError(`forbidden: ${detail}`, EXIT.AUTH);
    if (status === 403) {
      return new CliError(
        `forbidden: ${detail}. Check --token / CORRAL_TOKEN against http.token in the config of \`corral run\`.`,
        EXIT.AUTH,
      );
    }
    if (status === 404) return new CliError(`not found: ${detail}`, EXIT.NOT_FOUND);
    if (code === 'ERR_RUN_FAILED') return new CliError(`the run failed again: ${message}`, EXIT.FAILURE);
    return new CliError(`${method} ${url.pathname} failed with HTTP ${status}: ${detail}`, EXIT.FAILURE);
  }
}
