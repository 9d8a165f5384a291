// The options proa takes, each with its environment twin, and the usage text made
// from them: the one table that --help, the parser and the README's table follow.
import { maxDurationText } from '../shared/limits.ts';

export type Kind = 'list' | 'value' | 'switch';

export interface OptionSpec {
  long: string;
  short?: string;
  kind: Kind;
  arg?: string;
  help: string;
  default?: string;
}

export const options: readonly OptionSpec[] = [
  { long: 'shutdown-http-get', short: 'g', kind: 'list', arg: 'URL', help: 'GET this URL on shutdown (repeatable)' },
  { long: 'shutdown-http-post', short: 'p', kind: 'list', arg: 'URL', help: 'POST to this URL, empty body, on shutdown (repeatable)' },
  { long: 'kill', short: 'k', kind: 'list', arg: 'NAME', help: 'on shutdown, signal every visible process whose executable is NAME (repeatable; needs shareProcessNamespace: true)' },
  { long: 'kill-all', short: 'K', kind: 'switch', help: 'on shutdown, signal every visible process but PID 1, proa and its child' },
  { long: 'kill-signal', kind: 'value', arg: 'SIG', help: 'signal for --kill and --kill-all: a name, with or without SIG (RTMIN+N by glibc numbering), or a number', default: 'TERM' },
  { long: 'shutdown-http-timeout', kind: 'value', arg: 'DURATION', help: 'bound on each shutdown request', default: '5s' },
  { long: 'shutdown-timeout', kind: 'value', arg: 'DURATION', help: 'bound on the whole shutdown: retrying the actions and waiting for the sidecars to exit; 0: one attempt each, do not wait', default: "the Pod's terminationGracePeriodSeconds, else 30s" },
  { long: 'shutdown-auto', kind: 'switch', help: "also POST to the shutdown endpoints of well-known sidecars (Istio, Linkerd, Cloud SQL Auth Proxy, Vault Agent) that the Pod spec shows enabled" },
  { long: 'shutdown-on-failure', kind: 'switch', help: 'shut the sidecars down even when the kubelet will run this container again for the exit code (OnFailure, restart rules)' },
  { long: 'ready-timeout', kind: 'value', arg: 'DURATION', help: 'give up (exit 5) when the sidecars are not ready by then', default: 'wait forever' },
  { long: 'ready-by', kind: 'value', arg: 'WHO', help: "probe: a sidecar is ready when the kubelet says so or proa's own run of its readinessProbe (httpGet, tcpSocket, grpc) passes; kubelet: the kubelet's word only", default: 'probe' },
  { long: 'wait-for', kind: 'list', arg: 'NAME', help: 'wait only for these containers (repeatable; native sidecars allowed)', default: 'every other regular container' },
  { long: 'ignore', kind: 'list', arg: 'NAME', help: 'do not wait for these containers (repeatable)' },
  { long: 'peer', kind: 'list', arg: 'NAME', help: 'a container that also runs proa although its spec does not show it (an image whose entrypoint is proa; repeatable): the sidecars stop once, after the last program', default: 'every container whose command runs proa' },
  { long: 'pod', kind: 'value', arg: 'NAME', help: "this Pod's name", default: 'POD_NAME, else the hostname' },
  { long: 'namespace', kind: 'value', arg: 'NAME', help: "this Pod's namespace", default: "POD_NAMESPACE, else the service account's namespace file" },
  { long: 'container', kind: 'value', arg: 'NAME', help: "proa's own container", default: 'found in /proc/self/mountinfo, else the first container' },
  { long: 'watch-timeout', kind: 'value', arg: 'DURATION', help: 'timeoutSeconds asked of each watch request; a dead connection is noticed within this + 5s', default: '50s' },
  { long: 'wait-http', kind: 'list', arg: 'URL', help: 'also wait until a GET of URL answers 2xx (repeatable); without API access, the only readiness and exit signal' },
  { long: 'wait-tcp', kind: 'list', arg: 'HOST:PORT', help: 'also wait until HOST:PORT accepts a connection (repeatable); without API access, the only readiness and exit signal' },
  { long: 'no-exit-wait', kind: 'switch', help: "without API access, do not wait for the endpoints to close after the shutdown (native sidecars keep theirs open until proa's container ends)" },
  { long: 'no-wait', kind: 'switch', help: 'start the command at once and never contact the Kubernetes API (shutdown actions still run)' },
  { long: 'events', kind: 'value', arg: 'ON|OFF', help: "on: post proa's steps as Events on its Pod (kubectl describe pod; needs create and patch on events); off: none", default: 'on' },
  { long: 'log-format', kind: 'value', arg: 'FORMAT', help: 'json or text', default: 'json' },
  { long: 'keep-proa-env', kind: 'switch', help: "pass proa's own PROA_* variables on to the command (by default they are removed: they may hold credentials)" },
];

export function envName(long: string): string {
  return 'PROA_' + long.toUpperCase().replaceAll('-', '_');
}

export const defaultServiceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

export function usage(): string {
  const lines = [
    'proa: wait for the sidecars of this Pod, run COMMAND, then shut the sidecars down.',
    '',
    'Usage: proa [OPTIONS] [--] COMMAND [ARGS...]',
    '       proa check [OPTIONS]   report what proa would do in this Pod, and why; changes nothing',
    '       (check only as the first argument: a program named check runs with proa -- check)',
    '',
    'Options (each also read from the environment variable shown; a flag replaces it):',
  ];
  for (const o of options) {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${o.long}${o.arg ? ` ${o.arg}` : ''}`;
    lines.push(`  ${flag}`);
    lines.push(`        ${o.help}`);
    lines.push(`        env ${envName(o.long)}${o.default ? `; default: ${o.default}` : ''}`);
  }
  lines.push(
    '  -h, --help      print this help',
    '  -V, --version   print the version',
    '',
    'Environment only:',
    '  PROA_DISABLED=1           run COMMAND with signal forwarding and nothing else',
    '  PROA_LOG=LEVEL            error, warn, info (default) or debug; RUST_LOG (LEVEL or proa=LEVEL) also works',
    `  PROA_SERVICEACCOUNT_DIR   credentials directory (default ${defaultServiceAccountDir})`,
    '',
    'Lists in the environment are comma-separated; switches take 1/true/yes or 0/false/no.',
    `Durations: a number with a unit (ms, s, m, h), combinable (1m30s); a bare number is seconds; at most ${maxDurationText}.`,
    '',
    'Exit codes: the command\'s own; 2 bad input; 3 not in Kubernetes; 4 a sidecar terminated for good;',
    '5 --ready-timeout expired; 6 the Pod was deleted first; 126 not executable; 127 not found;',
    '128+N a signal before the command started, or the command died of signal N; 70 an internal error before the command ran.',
    'proa check: 0 proa would work here; 1 it would not (the last line says why); 2 bad options.',
  );
  return lines.join('\n') + '\n';
}
