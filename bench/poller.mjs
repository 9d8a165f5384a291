// A polling peer, the way scuttle and linkerd-await wait: GET the readiness URL once a
// second until it answers 200, then run the command (argv after the URL).
import { spawn } from 'node:child_process';
import { get } from 'node:http';

const [url, ...command] = process.argv.slice(2);
const poll = () => new Promise((resolve) => {
  get(url, (res) => { res.resume(); resolve(res.statusCode === 200); }).on('error', () => resolve(false));
});
console.log('polling');
while (!(await poll())) await new Promise((resolve) => setTimeout(resolve, 1000));
spawn(command[0], command.slice(1), { stdio: 'inherit' }).on('exit', (code) => process.exit(code ?? 1));
