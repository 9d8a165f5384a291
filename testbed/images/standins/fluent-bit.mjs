// A log shipper with no endpoint to stop it: a process named fluent-bit (the runtime
// starts it under that name) that flushes and exits 0 on SIGTERM, as Fluent Bit does.
// With -H/--http, its monitoring server answers GET / on :2020 (-P/--port), for a probe.
import { onTerm, serve } from './http.mjs';

const args = process.argv.slice(2);
if (args.includes('--http') || args.includes('-H')) {
  const i = args.findIndex((a) => a === '-P' || a === '--port' || a.startsWith('--port='));
  const port = i < 0 ? 2020 : Number(args[i].includes('=') ? args[i].split('=')[1] : args[i + 1]);
  serve('fluent-bit', '0.0.0.0', port, { 'GET /': (_req, res) => res.writeHead(200).end('{"fluent-bit":{"version":"3.2.10"}}\n') });
}
console.log('fluent-bit: [engine] started');
setInterval(() => {}, 1 << 30);
onTerm((s) => `fluent-bit: [engine] caught signal (${s}), flushing, exiting 0`);
