// The rules of src/shutdown/kill.ts on a /proc of our making: which name a process answers to, and
// that a PID whose process changed between the scan and the signal is spared. The race
// cannot be hit through the binary, so the module is driven directly here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ancestors, hostPidNamespace, listProcesses, signalIfSame } from '../src/shutdown/kill.ts';
import { createLogger } from '../src/shared/log.ts';
import { tempDir } from '../testbed/paths.ts';

interface FakeProcess { pid: number; ppid: number; argv: string[]; exe?: string; comm: string; start: number; flags?: number }

function fakeProc(processes: FakeProcess[]): string {
  const root = tempDir('proc-');
  for (const p of processes) {
    const dir = join(root, String(p.pid));
    mkdirSync(dir);
    writeFileSync(join(dir, 'cmdline'), p.argv.length > 0 ? p.argv.join('\0') + '\0' : '');
    writeFileSync(join(dir, 'comm'), `${p.comm}\n`);
    // Fields as proc(5) lays them out; the command name may hold spaces and parentheses.
    const rest = ['S', p.ppid, p.pid, p.pid, 0, -1, p.flags ?? 4194560, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, p.start, 0, 0];
    writeFileSync(join(dir, 'stat'), `${p.pid} (${p.comm}) ${rest.join(' ')}\n`);
    if (p.exe) symlinkSync(p.exe, join(dir, 'exe'));
  }
  return root;
}

const quiet = createLogger('json', 'error', () => {});

test('a process answers to the base name of its executable and of its argv[0]; comm is never used', () => {
  const proc = fakeProc([
    { pid: 10, ppid: 1, argv: ['/usr/local/bin/envoy', '-c', 'x'], exe: '/usr/local/bin/envoy', comm: 'envoy', start: 100 },
    // Another user's process: /proc/PID/exe unreadable (no link here); argv[0] decides.
    { pid: 11, ppid: 1, argv: ['/opt/fluent-bit/bin/fluent-bit'], comm: 'flb-pipeline', start: 101 },
    // comm set by the process to a name it does not run as.
    { pid: 12, ppid: 1, argv: ['sh', '-c', 'loop'], exe: '/bin/dash', comm: 'victim', start: 102 },
    // A symlinked launcher: argv[0] is the link's name, exe the target's.
    { pid: 13, ppid: 1, argv: ['/usr/bin/vault-agent', 'agent'], exe: '/usr/bin/vault', comm: 'vault', start: 103 },
    // A kernel thread and a zombie: no command line.
    { pid: 2, ppid: 0, argv: [], comm: 'kthreadd', start: 1, flags: 0x00208040 },
    { pid: 14, ppid: 1, argv: [], comm: 'defunct', start: 104 },
  ]);
  const byPid = new Map(listProcesses(proc).map((p) => [p.pid, p.names]));
  assert.deepEqual([...byPid.keys()].sort((a, b) => a - b), [10, 11, 12, 13]);
  assert.deepEqual(byPid.get(10), ['envoy']);
  assert.deepEqual(byPid.get(11), ['fluent-bit']);
  assert.deepEqual(byPid.get(12), ['dash', 'sh']);
  assert.deepEqual(byPid.get(13), ['vault', 'vault-agent']);
  assert.ok(![...byPid.values()].flat().includes('victim'), 'comm is not a name');
});

test('the PID changed hands between the scan and the signal: not signalled', () => {
  const proc = fakeProc([{ pid: 20, ppid: 1, argv: ['/usr/bin/envoy'], exe: '/usr/bin/envoy', comm: 'envoy', start: 500 }]);
  const [scanned] = listProcesses(proc);
  const sent: number[] = [];
  const send = (pid: number): void => void sent.push(pid);
  assert.equal(signalIfSame(scanned!, 'envoy', { name: 'SIGTERM', number: 15 }, quiet, proc, send), true);
  // The process exits and another takes its PID: a different start time.
  const stat = join(proc, '20', 'stat');
  writeFileSync(stat, `20 (bash) S 1 20 20 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n`);
  assert.equal(signalIfSame(scanned!, 'envoy', { name: 'SIGTERM', number: 15 }, quiet, proc, send), false);
  assert.deepEqual(sent, [20]);
});

test('ancestors: the chain of parents up to the top of the namespace; the host namespace by kernel threads', () => {
  const proc = fakeProc([
    { pid: 1, ppid: 0, argv: ['/sbin/tini', '--'], exe: '/sbin/tini', comm: 'tini', start: 1 },
    { pid: 7, ppid: 1, argv: ['sh', '-c', 'proa ...'], exe: '/bin/sh', comm: 'sh (x) y', start: 2 },
    { pid: 9, ppid: 7, argv: ['proa'], exe: '/usr/local/bin/proa', comm: 'proa', start: 3 },
  ]);
  assert.deepEqual(ancestors(proc, 9), [7, 1]);
  assert.equal(hostPidNamespace(proc), undefined, 'no kernel threads, no namespace link: a Pod\'s namespace');
  const host = fakeProc([{ pid: 2, ppid: 0, argv: [], comm: 'kthreadd', start: 1, flags: 0x00208040 }]);
  assert.match(hostPidNamespace(host) ?? '', /kernel threads are visible \(pid 2\)/);
});
