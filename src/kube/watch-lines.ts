// One line of a watch stream, as what it means to the watch: a Pod (through the Pod
// boundary, kube/decode.ts), a bookmark, an expired version, an error the server sent,
// something proa cannot use, or a broken stream. Pure, and never throws: the watch
// (kube/watch.ts) decides what each means for its state.
import type { Pod } from '../shared/pod.ts';
import { decodePod } from './decode.ts';

export type StreamEvent =
  | { kind: 'pod' | 'deleted'; pod: Pod; problems: string[]; rv: string | undefined }
  | { kind: 'bookmark'; rv: string | undefined }
  | { kind: 'expired' }
  /** An ERROR event other than 410: the server gave up on this watch. */
  | { kind: 'error'; message: string }
  /** An event proa cannot use: skipped, said once. */
  | { kind: 'odd'; why: string }
  /** Not JSON: the stream itself is broken. */
  | { kind: 'broken'; why: string }
  | { kind: 'blank' };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseEvent(line: string): StreamEvent {
  if (line.trim() === '') return { kind: 'blank' };
  let event: unknown;
  try {
    event = JSON.parse(line);
  } catch {
    return { kind: 'broken', why: `watch stream sent a line that is not JSON (${line.length} bytes)` };
  }
  if (!isObj(event)) return { kind: 'odd', why: `watch stream sent an event that is not an object (${event === null ? 'null' : typeof event}); skipped` };
  const object = isObj(event.object) ? event.object : undefined;
  const metadata = object && isObj(object.metadata) ? object.metadata : undefined;
  const rv = typeof metadata?.resourceVersion === 'string' ? metadata.resourceVersion : undefined;
  switch (event.type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED': {
      if (!object) return { kind: 'odd', why: `watch stream sent a ${event.type} event without an object; skipped` };
      const { pod, problems } = decodePod(object);
      return { kind: event.type === 'DELETED' ? 'deleted' : 'pod', pod, problems, rv };
    }
    case 'BOOKMARK':
      // Only the version is meaningful; the object is not a usable Pod.
      return { kind: 'bookmark', rv };
    case 'ERROR': {
      const { code, reason, message } = object ?? {};
      if (code === 410 || reason === 'Expired' || reason === 'Gone') return { kind: 'expired' };
      const text = typeof message === 'string' ? message.slice(0, 1024) : 'no message';
      return { kind: 'error', message: `watch stream sent an ERROR event (code ${typeof code === 'number' ? code : 'none'}): ${text}` };
    }
    default:
      return { kind: 'odd', why: `watch stream sent an event of unknown type ${JSON.stringify(String(event.type).slice(0, 64))}; skipped` };
  }
}
