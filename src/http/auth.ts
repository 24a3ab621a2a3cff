import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './respond.ts';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Checks `Authorization: Bearer <token>` for mutating routes. The token is compared as SHA-256
 * digests with `timingSafeEqual`: equal lengths whatever the guess, and no early exit that would leak
 * how many leading characters matched.
 */
export class BearerAuth {
  readonly #expected: Buffer | undefined;

  /** `token` undefined: mutations are refused outright (there is nothing safe to compare with). */
  constructor(token: string | undefined) {
    this.#expected = token === undefined ? undefined : digest(token);
  }

  /** Throws the {@link HttpError} (401 missing, 403 wrong or not configured) unless `header` is valid. */
  check(header: string | undefined): void {
    if (this.#expected === undefined) {
      throw new HttpError(
        403,
        'ERR_FORBIDDEN',
        'mutations are disabled: no token is configured (pass { token } to listen() / createHttpHandler())',
      );
    }
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
    if (match === null) {
      throw new HttpError(
        401,
        'ERR_UNAUTHORIZED',
        'this route needs an "Authorization: Bearer <token>" header',
        {
          'www-authenticate': 'Bearer realm="corral"',
        },
      );
    }
    if (!timingSafeEqual(digest(match[1] as string), this.#expected)) {
      throw new HttpError(403, 'ERR_FORBIDDEN', 'the bearer token is not valid');
    }
  }
}
