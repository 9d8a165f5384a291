// What a failed watch request means, in words a user can act on: each distinct problem
// gets a key (logged once while it stands), a level and a message naming the fix.
import { ApiError, isTlsFailure, TransportError } from './client.ts';

export interface Problem {
  key: string;
  level: 'error' | 'warn';
  msg: string;
  fields: Record<string, unknown>;
}

export function describeProblem(err: unknown, where: { pod: string; namespace: string }, serviceAccount: () => string | undefined): Problem {
  if (err instanceof ApiError) {
    if (err.status === 403) {
      const subject = err.message.match(/User "system:serviceaccount:([^:"]+):([^"]+)"/);
      const account = subject ? `${subject[1]}/${subject[2]}` : (serviceAccount() ?? 'of this Pod');
      // RBAC's message names the verb it refused ("cannot watch resource"): a Role that lacks one.
      const verb = err.message.match(/cannot (\w+) resource/)?.[1];
      return {
        key: 'forbidden', level: 'error',
        msg: `forbidden${verb ? ` (cannot ${verb})` : ''}: service account ${account} needs get, list and watch on pods in namespace ${where.namespace}; ` +
          'grant them with a Role and RoleBinding (see the RBAC section of the README). Retrying.',
        fields: { ...where, status: 403, apiMessage: err.message },
      };
    }
    if (err.status === 401) {
      return {
        key: 'unauthorized', level: 'error',
        msg: 'the API server rejected the service-account token (401), also when read afresh. Retrying.',
        fields: { ...where, status: 401 },
      };
    }
    return {
      key: `http ${err.status}`, level: 'warn',
      msg: `the API server answered ${err.status}${err.reason ? ` ${err.reason}` : ''}. Retrying.`,
      fields: { ...where, status: err.status, apiMessage: err.message, retryAfterMs: err.retryAfterMs },
    };
  }
  if (err instanceof TransportError) {
    const tls = isTlsFailure(err.code);
    return {
      key: `transport ${err.code}`, level: 'warn',
      msg: tls
        ? "cannot verify the API server's certificate against the service account's ca.crt. Retrying."
        : `cannot reach the Kubernetes API: ${err.message}. Retrying.`,
      fields: { error: err.code },
    };
  }
  // Node's message for a response cut off mid-stream (reset, server gone) is a bare "aborted".
  const raw = err instanceof Error ? err.message : String(err);
  const message = raw === 'aborted' ? 'the watch connection was cut off mid-stream' : raw;
  return { key: `stream ${message.replace(/\d+/g, 'N')}`, level: 'warn', msg: `${message}. Retrying.`, fields: where };
}
