/**
 * DNS-rebinding protection (README, "HTTP API"): a page on `attacker.example` whose name is made to
 * resolve to 127.0.0.1 would be same-origin with a loopback server and could read it. Such a request
 * still says `Host: attacker.example`, so a request that arrived on a loopback address must name a
 * loopback host (localhost, *.localhost, 127.0.0.0/8, [::1]) or one of `allowedHosts`, as dev servers
 * check. Mutations that carry an `Origin` must come from the server's own origin or an allowed host.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { HttpError } from './respond.ts';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for a loopback IP address (IPv4-mapped IPv6 ones included). */
function isLoopbackIp(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The host name of a `Host` value (`name`, `name:port`, `[v6]:port`), lower-case, or undefined if malformed. */
function hostnameOf(host: string): string | undefined {
  try {
    // URL parsing normalises what browsers would send (case, IPv4 shorthands, IPv6 forms).
    const url = new URL(`http://${host}`);
    if (url.pathname !== '/' || url.username !== '' || url.search !== '') return undefined;
    return url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || isLoopbackIp(hostname);
}

function defaultPort(protocol: string): string {
  return protocol === 'https:' ? '443' : '80';
}

export class HostCheck {
  readonly #allowed: readonly string[] | true;

  /** `allowed`: lower-case names, a leading dot for a domain and its subdomains; `true`: any. */
  constructor(allowed: readonly string[] | true) {
    this.#allowed = allowed;
  }

  #isAllowed(hostname: string): boolean {
    if (this.#allowed === true) return true;
    return this.#allowed.some((entry) =>
      entry.startsWith('.') ? hostname === entry.slice(1) || hostname.endsWith(entry) : hostname === entry,
    );
  }

  /** Throws 403 `ERR_HOST_NOT_ALLOWED` for a request on a loopback address that names another host. */
  checkHost(req: IncomingMessage): void {
    if (this.#allowed === true) return;
    // Only loopback servers are the target of rebinding; behind a proxy or on a LAN address, the
    // Host is whatever name the deployment uses.
    const local = req.socket.localAddress;
    if (local === undefined || !isLoopbackIp(local)) return;
    const host = req.headers.host;
    if (host === undefined) return; // not from a browser: browsers always send it
    const hostname = hostnameOf(host);
    if (hostname !== undefined && (isLoopbackName(hostname) || this.#isAllowed(hostname))) return;
    throw new HttpError(
      403,
      'ERR_HOST_NOT_ALLOWED',
      `the Host "${host}" is not a loopback name nor in allowedHosts (an option of listen() / createHttpHandler())`,
    );
  }

  /** Throws 403 `ERR_ORIGIN_NOT_ALLOWED` for a mutation sent from another origin than the server's own. */
  checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined || this.#allowed === true) return;
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined; // "null" (a sandboxed frame, a file) and other opaque origins
    }
    if (url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:')) {
      const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
      if (this.#isAllowed(hostname)) return;
      const host = req.headers.host;
      if (host !== undefined) {
        try {
          const own = new URL(`${url.protocol}//${host}`);
          const port = (u: URL) => u.port || defaultPort(u.protocol);
          if (own.hostname === url.hostname && port(own) === port(url)) return;
        } catch {
          // a malformed Host: no origin matches it
        }
      }
    }
    throw new HttpError(
      403,
      'ERR_ORIGIN_NOT_ALLOWED',
      `mutations from the origin "${origin}" are refused: only the server's own origin and allowedHosts may send them`,
    );
  }
}
