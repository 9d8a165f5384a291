// Names to addresses for every connection proa makes to a sidecar (shutdown requests,
// readiness and exit probes); never for the API server, which is an address.
//
// - `localhost` and names under `.localhost` are the loopback addresses (RFC 6761),
//   answered here without DNS or /etc/hosts: scratch and Alpine images have no
//   nsswitch.conf, glibc then asks DNS first, and in a Pod that is cluster DNS, where
//   `localhost` is search-expanded and may come back NXDOMAIN or wrong.
// - Any other name goes to the system's resolver (getaddrinfo through dns.lookup, so
//   /etc/hosts and the Pod's hostAliases keep working, as dns.Resolver would not), in a
//   child process of proa's own binary, started on the first such name and killed when
//   proa exits. getaddrinfo cannot be cancelled: to a resolver that swallows queries it
//   holds a thread until it gives up (resolv.conf's timeout x attempts x search domains:
//   a minute is common), and libuv joins its threads when the process exits, so a
//   lookup in proa itself would hold proa's own exit, and the Job, that long.
// - One lookup per name in flight: a caller that comes while one is under way joins it,
//   so probes five times a second build no backlog.
// - Each caller waits at most lookupDeadlineMs, then gets ETIMEOUT; the lookup goes on,
//   and the next caller joins it.
import { spawn, type ChildProcess } from 'node:child_process';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { isSea } from 'node:sea';

/** A probe's attempt is bounded to 1 s; a lookup, which comes first, no longer. */
const lookupDeadlineMs = 1000;

/** Set in the resolver child's environment: proa's binary then serves lookups (main.ts reads it). */
const resolverVariable = '__PROA_RESOLVER';

type Answer = (err: NodeJS.ErrnoException | null, list: LookupAddress[]) => void;
const inFlight = new Map<string, Set<Answer>>();

const failure = (code: string, message: string, hostname: string): NodeJS.ErrnoException =>
  Object.assign(new Error(message), { code, hostname });

/** The resolver child: one line a question (`ID NAME`), one line an answer (`ID JSON`). */
class Resolver {
  #child: ChildProcess | undefined;
  #asked = new Map<number, (err: NodeJS.ErrnoException | null, list: LookupAddress[]) => void>();
  #next = 0;
  #partial = '';

  ask(hostname: string, answer: Answer): void {
    // Only proa's own binary serves lookups; the modules run from source (tests) ask here.
    if (!isSea()) return dnsLookup(hostname, { all: true }, (err, list) => answer(err, err ? [] : list));
    const child = this.#child ?? this.#start();
    if (!child?.stdin?.writable) return answer(failure('ERESOLVER', 'the resolver process could not be started', hostname), []);
    const id = this.#next++;
    this.#asked.set(id, answer);
    child.stdin.write(`${id} ${hostname}\n`);
  }

  #start(): ChildProcess | undefined {
    // What getaddrinfo reads from the environment, and nothing else (no PROA_*, no token path).
    const env = Object.fromEntries(['LOCALDOMAIN', 'RES_OPTIONS', 'HOSTALIASES'].filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]!]));
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [], { env: { ...env, [resolverVariable]: '1' }, stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      return undefined;
    }
    this.#child = child;
    child.on('error', () => this.#gone(child));
    child.once('exit', () => this.#gone(child));
    child.stdin!.on('error', () => {});
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (this.#partial + chunk).split('\n');
      this.#partial = lines.pop() ?? '';
      // Our own child's answers, still read as untrusted: a malformed line is no answer.
      if (this.#partial.length > 65536) this.#partial = '';
      for (const line of lines) this.#answer(line);
    });
    // Neither the child nor its pipes keep proa running; proa's exit takes the child with it.
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    process.once('exit', () => child.kill('SIGKILL'));
    return child;
  }

  #answer(line: string): void {
    const space = line.indexOf(' ');
    const id = Number(line.slice(0, space));
    const answer = this.#asked.get(id);
    if (!answer) return;
    this.#asked.delete(id);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.slice(space + 1));
    } catch {
      return answer(failure('ERESOLVER', 'the resolver process answered nonsense', ''), []);
    }
    const p = parsed as { error?: unknown; list?: unknown };
    if (typeof p.error === 'string') return answer(failure(p.error, `getaddrinfo ${p.error}`, ''), []);
    const list = Array.isArray(p.list) ? p.list.filter((a): a is LookupAddress =>
      typeof a === 'object' && a !== null && typeof a.address === 'string' && isIP(a.address) !== 0 && (a.family === 4 || a.family === 6)) : [];
    answer(null, list.map((a) => ({ address: a.address, family: a.family })));
  }

  #gone(child: ChildProcess): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const asked = [...this.#asked.values()];
    this.#asked.clear();
    for (const a of asked) a(failure('ERESOLVER', 'the resolver process ended', ''), []);
  }
}

const resolver = new Resolver();

function shared(hostname: string, answer: Answer): () => void {
  let waiting = inFlight.get(hostname);
  if (!waiting) {
    const those = (waiting = new Set());
    inFlight.set(hostname, those);
    resolver.ask(hostname, (err, list) => {
      inFlight.delete(hostname);
      for (const a of those) a(err, list);
    });
  }
  waiting.add(answer);
  return () => waiting.delete(answer);
}

const loopback = (name: string): boolean => name === 'localhost' || name.endsWith('.localhost');

/** The addresses of `hostname` (see the top of this file), in the shape of dns.lookup's callback. */
export function lookup(hostname: string, options: { all?: boolean; family?: number | string }, callback: (...args: never[]) => void): void {
  const family = options.family === 6 || options.family === 'IPv6' ? 6 : options.family === 4 || options.family === 'IPv4' ? 4 : 0;
  const cb = callback as unknown as (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) => void;
  const deliver = (err: NodeJS.ErrnoException | null, list: LookupAddress[]): void => {
    const fit = list.filter((a) => family === 0 || a.family === family);
    if (err || fit.length === 0) {
      cb(err ?? failure('ENOTFOUND', `getaddrinfo ENOTFOUND ${hostname}`, hostname));
    } else if (options.all) {
      cb(null, fit);
    } else {
      cb(null, fit[0]!.address, fit[0]!.family);
    }
  };
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (loopback(name)) {
    const all: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }];
    process.nextTick(() => deliver(null, all));
    return;
  }
  if (isIP(hostname) !== 0) {
    process.nextTick(() => deliver(null, [{ address: hostname, family: isIP(hostname) }]));
    return;
  }
  let settled = false;
  const settle = (err: NodeJS.ErrnoException | null, list: LookupAddress[]): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    leave();
    deliver(err, list);
  };
  const leave = shared(hostname, settle);
  const timer = setTimeout(() => settle(failure('ETIMEOUT', `DNS lookup of ${hostname} did not answer within ${lookupDeadlineMs}ms`, hostname), []),
    lookupDeadlineMs);
}

/**
 * The resolver child's whole life: a name a line on stdin, its addresses (or the error's
 * code) a line on stdout, until stdin closes. Names are at most 253 characters.
 */
export function serveLookups(): void {
  let partial = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = (lines.pop() ?? '').slice(0, 512);
    for (const line of lines) {
      const space = line.indexOf(' ');
      const id = line.slice(0, space);
      const name = line.slice(space + 1);
      if (!/^\d+$/.test(id) || name.length === 0 || name.length > 253) continue;
      dnsLookup(name, { all: true }, (err, list) => {
        process.stdout.write(`${id} ${JSON.stringify(err ? { error: err.code ?? 'ENOTFOUND' } : { list })}\n`);
      });
    }
  });
  process.stdin.on('end', () => process.exit(0));
}
