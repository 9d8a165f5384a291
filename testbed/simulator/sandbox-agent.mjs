// PID 1 of a simulated Pod with shareProcessNamespace: true, like the pause container.
// The simulator starts it with `unshare --pid --fork --mount-proc --uts` and drives it
// over stdin/stdout with JSON lines: it spawns containers inside the shared PID
// namespace, relays their output, signals them, and reports their exits.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const children = new Map();
const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
// Like pause: ignore the usual stop signals; the simulator ends it with KILL.
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => {});

createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.op === 'spawn') {
    const child = spawn(msg.argv[0], msg.argv.slice(1), { env: msg.env, cwd: msg.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(msg.id, child);
    child.on('error', (err) => send({ id: msg.id, event: 'exit', code: err.code === 'ENOENT' ? 127 : 126, signal: null, error: err.message }));
    child.on('spawn', () => send({ id: msg.id, event: 'started', pid: child.pid }));
    for (const stream of ['stdout', 'stderr']) {
      child[stream].on('data', (d) => send({ id: msg.id, event: 'output', stream, data: d.toString('base64') }));
    }
    child.on('exit', (code, signal) => send({ id: msg.id, event: 'exit', code, signal }));
  } else if (msg.op === 'kill') {
    try { children.get(msg.id)?.kill(msg.signal); } catch { /* gone already */ }
  }
});
process.stdin.on('end', () => process.exit(0));
