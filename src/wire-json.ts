/**
 * JSON for the wire. Worker results, payloads and event payloads are arbitrary values: an `Error`
 * would serialize as `{}`, a `bigint` or a cycle would make `JSON.stringify` throw. The HTTP layer
 * must never fail a response (or an event stream), nor a cluster host its event relay
 * (cluster/event-feed.ts), because of what a worker returned.
 */

/** An `Error` as it goes over the wire: `{ name, message, code }` (`code` only when the error has one). */
export interface WireError {
  name: string;
  message: string;
  code?: unknown;
}

/** Converts an `Error` to {@link WireError}; other values unchanged. */
export function wireError(error: Error): WireError {
  const out: WireError = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  return out;
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return wireError(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Like {@link replacer}, and cuts repeated objects (cycles) into the string '[Circular]'. */
function cycleSafeReplacer(): (key: string, value: unknown) => unknown {
  const seen = new WeakSet<object>();
  return (key, value) => {
    const out = replacer(key, value);
    if (typeof out === 'object' && out !== null) {
      if (seen.has(out)) return '[Circular]';
      seen.add(out);
    }
    return out;
  };
}

/**
 * The JSON of `value` with {@link replacer} (cycles cut into '[Circular]'), or the error that made it
 * impossible (a throwing `toJSON`, or nesting deeper than the stack).
 */
export function tryToJson(value: unknown): { text: string } | { error: unknown } {
  try {
    return { text: JSON.stringify(value, replacer) ?? 'null' };
  } catch {
    // A cycle (or a throwing toJSON): the slower, cycle-aware pass only for values that need it.
    try {
      return { text: JSON.stringify(value, cycleSafeReplacer()) ?? 'null' };
    } catch (error) {
      return { error };
    }
  }
}

/** `JSON.stringify` that never throws: Errors become {@link WireError}, bigints strings, cycles '[Circular]'. */
export function toJson(value: unknown): string {
  const out = tryToJson(value);
  if ('text' in out) return out.text;
  return JSON.stringify({
    unserializable: out.error instanceof Error ? out.error.message : String(out.error),
  });
}
