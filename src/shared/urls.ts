// The rules for every URL proa is given (shutdown targets): what counts as local, what
// may carry credentials, and the one redaction that every output uses, so that a
// password in a URL never reaches a log line, `proa check` or a usage error.
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';

/**
 * `scheme://user:password@` in any text: the userinfo goes, the rest stays. The userinfo
 * runs to the last `@` before the path, whatever it holds (quotes, `@`, `:`), but never
 * past an unescaped `"`: in a JSON log line that ends the string the URL is in, and a
 * quote inside a password there is escaped (`\"`).
 */
const userinfo = /\b([a-z][a-z0-9+.-]*:\/\/)(?:[^/\s?#"\\]|\\.)*@/gi;

/** The text with the credentials of every URL in it removed. */
export function redact(text: string): string {
  return text.replace(userinfo, '$1');
}

/**
 * A raw value, as a usage error may quote it: one that is not a URL may still hold
 * userinfo (a forgotten scheme, `//user:pw@host`), so whatever stands before its last `@`
 * goes, a scheme apart.
 */
export function shownValue(text: string): string {
  const at = text.lastIndexOf('@');
  if (at < 0) return text;
  const scheme = text.match(/^(?:[a-z][a-z0-9+.-]*:)?\/\//i)?.[0] ?? '';
  return `${at >= scheme.length ? scheme : ''}***${text.slice(at)}`;
}

/** A URL's host as sockets take it: an IPv6 literal without its brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

/** A URL fit for output: credentials in it are not. */
export function display(url: URL): string {
  return redact(url.href);
}

/**
 * A host in this Pod, judged without DNS: the loopback range, `localhost` and names under
 * `.localhost` (RFC 6761), or an address of one of proa's own network interfaces (the
 * Pod's IP: every container of a Pod shares its network namespace).
 */
export function isLocalHost(hostname: string, ownAddresses: () => string[] = interfaceAddresses): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const family = isIP(h);
  if (family === 0) return false;
  if (family === 4 && h.startsWith('127.')) return true;
  if (family === 6 && (h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h))) return true;
  return ownAddresses().some((a) => a.toLowerCase() === h);
}

function interfaceAddresses(): string[] {
  try {
    return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
  } catch {
    return [];
  }
}

/**
 * Why a URL cannot be used, or undefined: credentials whose percent-escapes do not decode
 * (they would fail only at shutdown), or Basic credentials in clear over the network.
 */
export function credentialProblem(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  try {
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return 'its credentials hold a malformed percent-escape (a % must start %XX, two hex digits)';
  }
  if (url.protocol === 'http:' && !isLocalHost(url.hostname)) {
    return `it sends credentials in clear over http: to ${url.hostname}, which is not in this Pod; use https:, or a local address`;
  }
  return undefined;
}

/** A URL's port, the scheme's default where it names none. */
export function portOf(u: URL): number {
  return Number(u.port || (u.protocol === 'https:' ? 443 : 80));
}

/** A shutdown URL's host:port, as the shutdown's `answered` holds it (probes/exit-signs.ts). */
export function requestKey(u: URL): string {
  return `${u.hostname.replace(/^\[|\]$/g, '')}:${portOf(u)}`;
}
