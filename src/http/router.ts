import { HttpError } from './respond.ts';

/** A route pattern such as `/workers/:name/trigger` split into literal and `:param` segments. */
export interface RoutePattern {
  readonly segments: readonly string[];
}

export function pattern(path: string): RoutePattern {
  return { segments: path.split('/').filter((s) => s !== '') };
}

/**
 * Matches `pathname` (already relative to the handler's base path) against `route`: the decoded
 * `:param` values, or `undefined`. A malformed percent-encoding is the client's fault: 400.
 */
export function match(route: RoutePattern, pathname: string): Record<string, string> | undefined {
  const parts = pathname.split('/').filter((s) => s !== '');
  if (parts.length !== route.segments.length) return undefined;
  const params: Record<string, string> = Object.create(null);
  for (let i = 0; i < parts.length; i++) {
    const expected = route.segments[i] as string;
    const actual = parts[i] as string;
    if (expected.startsWith(':')) {
      params[expected.slice(1)] = decode(actual);
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'ERR_BAD_REQUEST', `malformed percent-encoding in the path: "${segment}"`);
  }
}
