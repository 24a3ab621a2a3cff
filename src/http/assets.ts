/**
 * The dashboard's files (src/http/dashboard/, copied to dist/http/dashboard/ by the build), served as
 * they are. Found relative to this module, so they are served the same from `src/` (tests, tsx) and
 * from the built package.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

/** A file of the dashboard: its name under src/http/dashboard/ and its content type. */
interface Asset {
  file: string;
  type: string;
}

/** The dashboard's routes (relative to the handler's base path) and the file each serves. */
export const DASHBOARD_ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['/', { file: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/dashboard.css', { file: 'dashboard.css', type: 'text/css; charset=utf-8' }],
  ['/dashboard.js', { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' }],
]);

/**
 * Scripts and styles from the page's own origin only: no inline script, no inline style, nothing
 * from elsewhere. `connect-src 'self'` covers the API calls and the event stream; `data:` images are
 * the empty favicon. The page holds buttons that act with the token: never inside someone else's frame.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const cache = new Map<string, Buffer>();

/** The content of a dashboard file, read once. */
export function assetContent(file: string): Buffer {
  let content = cache.get(file);
  if (content === undefined) {
    content = readFileSync(new URL(`./dashboard/${file}`, import.meta.url));
    cache.set(file, content);
  }
  return content;
}

/** Sends a dashboard file with its content type and the page's security headers. */
export function sendAsset(res: ServerResponse, asset: Asset): void {
  const body = assetContent(asset.file);
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': String(body.length),
    // Revalidated on each load: a page of a newer corral must not run an older cached script.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': DASHBOARD_CSP,
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  });
  res.end(body); // for HEAD, node:http sends the headers only
}
