// A local HTTP server standing in for sidecars' shutdown endpoints: it records every
// request it receives and answers with a chosen status (or not at all).
import { createServer, type Server } from 'node:http';
import { EventEmitter } from 'node:events';

export interface Received {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class Recorder extends EventEmitter {
  readonly received: Received[] = [];
  port = 0;
  readonly #server: Server;
  /** Status per path; a path set to 'hang' never answers. */
  readonly answers = new Map<string, number | 'hang'>();

  constructor() {
    super();
    this.#server = createServer((req, res) => {
      // A client that hangs up mid-request (proa's timeout, a stopped test) is no error here.
      req.on('error', () => {});
      res.on('error', () => {});
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
        this.received.push(r);
        this.emit('request', r);
        const answer = this.answers.get(r.path) ?? 200;
        if (answer === 'hang') return;
        res.writeHead(answer);
        res.end('ok');
      });
    });
  }

  static async start(): Promise<Recorder> {
    const r = new Recorder();
    await new Promise<void>((resolve) => r.#server.listen(0, '127.0.0.1', resolve));
    const addr = r.#server.address();
    r.port = typeof addr === 'object' && addr ? addr.port : 0;
    return r;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
