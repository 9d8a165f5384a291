import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCli, parseDuration, parseSignal, UsageError, type Config } from '../src/cli/cli.ts';
import { envName } from '../src/cli/options.ts';
import { levelFromRustLog } from '../src/shared/log.ts';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const inv = parseCli(argv, env);
  assert.equal(inv.kind, 'run');
  return (inv as { config: Config }).config;
}

function usageError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseCli(argv, env);
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.match(err.message, /proa --help/);
    return err.message;
  }
  assert.fail(`expected a usage error for ${JSON.stringify(argv)}`);
}

test('durations: units, combinations, bare seconds', () => {
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('7'), 7000);
  assert.equal(parseDuration('0'), 0);
  for (const bad of ['', 's', '5x', '-1s', '1 s', '5sec', 'ms5']) assert.equal(parseDuration(bad), undefined, bad);
});

test('a bare number then a unit word (--ready-timeout 5 min) is refused with the hint; with -- between, the word is the command', () => {
  assert.match(usageError(['--ready-timeout', '5', 'min', 'true']), /--ready-timeout: "5 min" is not a duration: the space ends the value, and "min" would run as the command; write 5m/);
  assert.match(usageError(['--shutdown-timeout=30', 'seconds']), /write 30s/);
  assert.match(usageError(['--shutdown-http-timeout', '1.5', 'Hours', 'x']), /write 1.5h/);
  assert.match(usageError(['--watch-timeout', '200', 'ms']), /write 200ms/);
  assert.equal(config(['--ready-timeout', '5', '--', 'min']).command, 'min');
  assert.equal(config(['--ready-timeout', '5', 'sleep', 'min']).command, 'sleep');
  assert.equal(config(['--ready-timeout', '5m', 'h']).command, 'h', 'a value with its unit: the next word is the command');
  assert.equal(config(['-g', 'http://127.0.0.1:1/q', 's']).command, 's', 'not after a duration');
});

test('signals: names with or without SIG, any case, numbers', () => {
  assert.deepEqual(parseSignal('TERM'), { name: 'SIGTERM', number: 15 });
  assert.deepEqual(parseSignal('SIGKILL'), { name: 'SIGKILL', number: 9 });
  assert.deepEqual(parseSignal('int'), { name: 'SIGINT', number: 2 });
  assert.deepEqual(parseSignal('10'), { name: 'SIGUSR1', number: 10 });
  assert.equal(parseSignal('NOPE'), undefined);
  assert.equal(parseSignal('0'), undefined);
  // Real-time signals: by number, and by name in glibc's numbering (SIGRTMIN = 34).
  assert.deepEqual(parseSignal('34'), { name: 'SIGRTMIN', number: 34 });
  assert.deepEqual(parseSignal('35'), { name: 'SIGRTMIN+1', number: 35 });
  assert.deepEqual(parseSignal('RTMIN+1'), { name: 'SIGRTMIN+1', number: 35 });
  assert.deepEqual(parseSignal('sigrtmax-2'), { name: 'SIGRTMAX-2', number: 62 });
  assert.deepEqual(parseSignal('64'), { name: 'SIGRTMAX', number: 64 });
  assert.equal(parseSignal('65'), undefined);
  assert.equal(parseSignal('RTMIN+31'), undefined);
  assert.equal(parseSignal('32'), undefined, 'glibc keeps 32 and 33 for itself');
});

test('both flag forms, repeatable lists, short clusters', () => {
  const c = config(['-g', 'http://a/x', '--shutdown-http-get=http://b/y', '-g=http://d/', '-phttp://c/z', '-Kk', 'envoy', '--', 'run', '--flag']);
  assert.deepEqual(c.httpGet.map(String), ['http://a/x', 'http://b/y', 'http://d/']);
  assert.deepEqual(c.httpPost.map(String), ['http://c/z']);
  assert.equal(c.killAll, true);
  assert.deepEqual(c.kill, ['envoy']);
  assert.equal(c.command, 'run');
  assert.deepEqual(c.args, ['--flag']);
});

test('parsing stops at the first argument that is not an option', () => {
  const c = config(['--no-wait', 'curl', '-sSf', '--shutdown-http-get', 'x']);
  assert.equal(c.command, 'curl');
  assert.deepEqual(c.args, ['-sSf', '--shutdown-http-get', 'x']);
  assert.equal(c.httpGet.length, 0);
});

test('defaults', () => {
  const c = config(['true']);
  assert.equal(c.httpTimeoutMs, 5000);
  assert.equal(c.shutdownTimeoutMs, undefined);
  assert.equal(c.readyTimeoutMs, undefined);
  assert.equal(c.watchTimeoutSeconds, 50);
  assert.deepEqual(c.killSignal, { name: 'SIGTERM', number: 15 });
  assert.equal(c.logFormat, 'json');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.serviceAccountDir, '/var/run/secrets/kubernetes.io/serviceaccount');
});

test('environment: PROA_ names, comma lists, switches, empty is unset', () => {
  assert.equal(envName('shutdown-http-post'), 'PROA_SHUTDOWN_HTTP_POST');
  const c = config(['true'], {
    PROA_SHUTDOWN_HTTP_POST: 'http://a/1, http://b/2,',
    PROA_KILL_ALL: 'Yes',
    PROA_NO_WAIT: 'TRUE',
    PROA_SHUTDOWN_ON_FAILURE: '0',
    PROA_SHUTDOWN_HTTP_TIMEOUT: '',
    PROA_KILL_SIGNAL: 'INT',
    PROA_WAIT_FOR: 'a,b',
    PROA_POD: 'p-1',
    PROA_VERSION: '1.2.3',
    PROA_HELP: '1',
  });
  assert.deepEqual(c.httpPost.map(String), ['http://a/1', 'http://b/2']);
  assert.equal(c.killAll, true);
  assert.equal(c.noWait, true);
  assert.equal(c.shutdownOnFailure, false);
  assert.equal(c.httpTimeoutMs, 5000);
  assert.equal(c.killSignal.name, 'SIGINT');
  assert.deepEqual(c.waitFor, ['a', 'b']);
  assert.deepEqual(c.pod, { value: 'p-1', source: 'PROA_POD' });
});

test('a flag replaces the environment for that option, lists too', () => {
  const c = config(['-g', 'http://flag/', '--pod', 'from-flag', 'true'], { PROA_SHUTDOWN_HTTP_GET: 'http://env1/,http://env2/', PROA_POD: 'from-env' });
  assert.deepEqual(c.httpGet.map(String), ['http://flag/']);
  assert.deepEqual(c.pod, { value: 'from-flag', source: '--pod' });
});

test('bad input names the option, the value and what is expected', () => {
  assert.match(usageError([]), /missing COMMAND/);
  assert.match(usageError(['--bogus', 'x']), /unknown option '--bogus'/);
  assert.match(usageError(['-z', 'x']), /unknown option '-z'/);
  assert.match(usageError(['-g', 'ftp://x', 'true']), /--shutdown-http-get: "ftp:\/\/x" is not an http\(s\) URL/);
  assert.match(usageError(['-p', 'not a url', 'true']), /--shutdown-http-post: "not a url"/);
  assert.match(usageError(['--shutdown-http-timeout', '5x', 'true']), /--shutdown-http-timeout: "5x" is not a duration/);
  assert.match(usageError(['--shutdown-http-timeout', '0', 'true']), /must be greater than zero/);
  assert.match(usageError(['--ready-timeout=0s', 'true']), /--ready-timeout/);
  assert.match(usageError(['--kill-signal', 'BOGUS', 'true']), /--kill-signal: "BOGUS" is not a signal/);
  assert.match(usageError(['--events', 'maybe', 'true']), /--events: "maybe" is not a switch; expected on or off \(see/);
  assert.match(usageError(['--ready-by', 'kube', 'true']), /--ready-by: "kube" is not who decides readiness; expected probe or kubelet \(see/);
  assert.match(usageError(['--log-format', 'xml', 'true']), /--log-format: "xml"/);
  assert.match(usageError(['--no-wait=1', 'true']), /--no-wait is a switch/);
  assert.match(usageError(['--pod']), /--pod needs a value/);
  assert.match(usageError(['true'], { PROA_SHUTDOWN_HTTP_TIMEOUT: 'soon' }), /PROA_SHUTDOWN_HTTP_TIMEOUT: "soon"/);
  assert.match(usageError(['true'], { PROA_KILL_ALL: 'maybe' }), /PROA_KILL_ALL="maybe"/);
  assert.match(usageError(['true'], { PROA_LOG: 'loud' }), /PROA_LOG="loud"/);
  assert.match(usageError(['true'], { PROA_DISABLED: 'perhaps' }), /PROA_DISABLED="perhaps"/);
  assert.match(usageError(['--wait-for', 'a', '--ignore', 'a', 'true']), /both in --wait-for and --ignore/);
});

test('limits: durations up to 2147483647ms; URL credentials judged at start and never echoed', () => {
  assert.equal(config(['--ready-timeout', '2147483647ms', 'true']).readyTimeoutMs, 2_147_483_647);
  assert.equal(config(['--ready-timeout', '596h31m23s', 'true']).readyTimeoutMs, 2_147_483_000);
  for (const text of ['2147483648ms', '600h', '1e3h', '99999999999999999999999999999999s']) {
    const message = usageError(['--shutdown-timeout', text, 'true']);
    assert.match(message, text === '1e3h' ? /is not a duration/ : /the largest duration is 2147483647ms \(596h31m23s\)/, text);
  }
  const bad = usageError(['-g', 'http://admin:hunt%zzer2@127.0.0.1:1/quit', 'true']);
  assert.match(bad, /malformed percent-escape/);
  assert.ok(!bad.includes('hunt'), bad);
  assert.match(usageError(['-p', 'http://u:p@10.1.2.3:15020/quit', 'true']), /credentials in clear over http: to 10\.1\.2\.3/);
  assert.equal(config(['-p', 'https://u:p@sidecar.example/quit', 'true']).httpPost.length, 1, 'https: may carry them anywhere');
  assert.equal(config(['-p', 'http://u:p@localhost:1/quit', 'true']).httpPost.length, 1, 'a local http: target may carry them');
  assert.equal(config(['--keep-proa-env', 'true']).keepProaEnv, true);
  assert.equal(config(['true'], { PROA_KEEP_PROA_ENV: 'yes' }).keepProaEnv, true);
  assert.equal(config(['true']).keepProaEnv, false);
});

test('a misspelt option gets a did-you-mean; --help and --version take nothing after them', () => {
  assert.match(usageError(['--shutdwon-http-get', 'http://127.0.0.1:1/', 'true']), /unknown option '--shutdwon-http-get'; did you mean --shutdown-http-get\?/);
  assert.match(usageError(['--no-wiat', 'true']), /did you mean --no-wait\?/);
  assert.match(usageError(['--helpp']), /did you mean --help\?/);
  assert.doesNotMatch(usageError(['--frobnicate', 'true']), /did you mean/);
  assert.match(usageError(['--help', 'me']), /--help takes nothing after it \(got "me"\)/);
  assert.match(usageError(['-V', 'x']), /-V takes nothing after it \(got "x"\)/);
  assert.match(usageError(['check', '--version', '--no-wait']), /--version takes nothing after it \(got "--no-wait"\)/);
  assert.equal(parseCli(['--help'], {}).kind, 'help');
});

test('a PROA_* variable one or two letters from a real one is named with the likely one; others are left alone', () => {
  const c = config(['true'], { PROA_SHUTDOWN_HTPP_GET: 'http://127.0.0.1:1/', PROA_NOWAIT: '1', PROA_VERSION: '1.2.3', PROA_LOG: 'info' });
  assert.deepEqual(c.envWarnings, [
    "environment variable PROA_NOWAIT is not one of proa's and is ignored; did you mean PROA_NO_WAIT?",
    "environment variable PROA_SHUTDOWN_HTPP_GET is not one of proa's and is ignored; did you mean PROA_SHUTDOWN_HTTP_GET?",
  ]);
  assert.deepEqual(c.httpGet, [], 'still ignored');
});

test('--shutdown-timeout 0 means do not wait', () => {
  assert.equal(config(['--shutdown-timeout', '0', 'true']).shutdownTimeoutMs, 0);
});

test('help and version win; PROA_DISABLED short-circuits the rest', () => {
  assert.equal(parseCli(['--help'], {}).kind, 'help');
  assert.equal(parseCli(['-g', 'http://127.0.0.1:1/', '-V'], {}).kind, 'version');
  assert.deepEqual(parseCli(['--shutdown-http-timeout', 'bogus', 'cmd', 'a'], { PROA_DISABLED: '1' }),
    { kind: 'disabled', command: 'cmd', args: ['a'], logFormat: 'json', logLevel: 'info', keepProaEnv: false });
  assert.equal(parseCli(['true'], { PROA_DISABLED: 'no' }).kind, 'run');
  // No option checks when disabled: unknown options and missing values are passed over;
  // the log settings are honoured where valid.
  assert.deepEqual(parseCli(['--no-such-option', '-Z', '--log-format', 'text', '--', 'cmd', '-x'], { PROA_DISABLED: 'yes', PROA_LOG: 'debug' }),
    { kind: 'disabled', command: 'cmd', args: ['-x'], logFormat: 'text', logLevel: 'debug', keepProaEnv: false });
  assert.deepEqual(parseCli(['--log-format', 'xml', 'cmd'], { PROA_DISABLED: '1', PROA_LOG: 'loud' }),
    { kind: 'disabled', command: 'cmd', args: [], logFormat: 'json', logLevel: 'info', keepProaEnv: false });
});

test('log level: PROA_LOG wins over RUST_LOG; RUST_LOG bare or proa=<level>', () => {
  assert.equal(config(['true'], { PROA_LOG: 'warn', RUST_LOG: 'debug' }).logLevel, 'warn');
  assert.equal(config(['true'], { RUST_LOG: 'debug' }).logLevel, 'debug');
  assert.equal(levelFromRustLog('hyper=warn,proa=error'), 'error');
  assert.equal(levelFromRustLog('trace'), 'debug');
  assert.equal(levelFromRustLog('hyper=warn'), undefined);
  assert.equal(config(['true'], { RUST_LOG: 'nonsense' }).logLevel, 'info');
});

test('--wait-http and --wait-tcp: local rules as for shutdown URLs; HOST:PORT checked; --no-wait with either is bad input', () => {
  const c = config(['--wait-http', 'http://localhost:15021/healthz/ready', '--wait-tcp', '[::1]:5432', '--wait-tcp', 'db.localhost:5432', 'true']);
  assert.deepEqual(c.waitHttp.map((u) => u.href), ['http://localhost:15021/healthz/ready']);
  assert.deepEqual(c.waitTcp.map((e) => [e.host, e.port]), [['::1', 5432], ['db.localhost', 5432]]);
  assert.deepEqual(config(['true'], { PROA_WAIT_TCP: '127.0.0.1:1,127.0.0.1:2' }).waitTcp.map((e) => e.port), [1, 2]);
  assert.match(usageError(['--wait-tcp', '127.0.0.1', 'true']), /--wait-tcp: "127\.0\.0\.1" is not HOST:PORT/);
  assert.match(usageError(['--wait-tcp', '127.0.0.1:70000', 'true']), /is not HOST:PORT/);
  assert.match(usageError(['--wait-http', 'http://u:p@10.0.0.9:1/ready', 'true']), /credentials in clear over http: to 10\.0\.0\.9/);
  assert.match(usageError(['--no-wait', '--wait-tcp', '127.0.0.1:1', 'true']), /--no-wait starts the command at once, and --wait-tcp waits for a sidecar: use one of them/);
  assert.deepEqual(config(['--wait-tcp', '10.1.2.3:80', 'true']).nonLocal, ['wait endpoint 10.1.2.3:80']);
  assert.equal(config(['--no-exit-wait', 'true']).noExitWait, true);
});
