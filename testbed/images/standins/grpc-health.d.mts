import type { Http2Server } from 'node:http2';

export function grpcHealthServer(): {
  server: Http2Server;
  set(service: string, status: 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN'): void;
  count(): number;
  asked(n: number): Promise<void>;
};
