// Waiting on events without sleeping: the first item, already recorded or still to
// come, that matches.
import type { EventEmitter } from 'node:events';

export function firstMatch<T>(emitter: EventEmitter, event: string, seen: readonly T[], match: (item: T) => boolean): Promise<T> {
  const found = seen.find(match);
  if (found !== undefined) return Promise.resolve(found);
  return new Promise((resolve) => {
    const on = (item: T): void => {
      if (!match(item)) return;
      emitter.off(event, on);
      resolve(item);
    };
    emitter.on(event, on);
  });
}
