// What the watch on the Pod tells of its own health (watch.ts runs it): each fault
// logged once when it starts and once when it clears, the Pod not found after 10 s, the
// API unreachable for 10 s, fields and events proa cannot use (each kind once, at most
// maxOddities), and the trouble its owner may act on (sidecars/modes.ts' fall-back).
//
// Defaults, and why:
// - a list that has not shown the Pod within 10 s means the name is wrong: say so once.
// - trouble for whoever may do without the watch (sidecars/modes.ts): a 403 or a 401 (after the
//   token was read afresh) at once; no answer from the API server for 10 s (refused,
//   reset, silent: an egress policy), from the start or from the first failure after a
//   healthy stream; and, for the exit wait, any failure to reach it at all ('broken').
import type { Sourced } from '../cli/cli.ts';
import type { Logger } from '../shared/log.ts';
import { ApiError } from './client.ts';
import { describeProblem } from './problems.ts';

const notFoundAfterMs = 10_000;
const unreachableAfterMs = 10_000;
/** Kinds of unusable events, and of unreadable fields, remembered and logged (see odd()). */
const maxOddities = 16;

/** What may make a watch useless to its owner (see the top of this file). */
export type Trouble = 'forbidden' | 'unauthorized' | 'unreachable' | 'broken';

export class WatchHealth {
  readonly #log: Logger;
  readonly #target: { pod: Sourced<string>; namespace: Sourced<string> };
  readonly #account: () => string | undefined;
  readonly #onTrouble: (t: Trouble) => void;
  readonly #stopped: AbortSignal;
  #problem: string | undefined;
  #problemMsg: string | undefined;
  #podSeen = false;
  #podMissing: string | undefined;
  #notFoundTimer: NodeJS.Timeout | undefined;
  /** What the API sent that proa could not use, each logged once. */
  #oddities = new Set<string>();
  #oddCapped = false;
  #badFields = new Set<string>();
  /** Armed while no answer has come from the API server (from the start, or since a failure). */
  #unreachable: NodeJS.Timeout | undefined;

  constructor(log: Logger, target: { pod: Sourced<string>; namespace: Sourced<string> }, account: () => string | undefined, onTrouble: (t: Trouble) => void, stopped: AbortSignal) {
    this.#log = log;
    this.#target = target;
    this.#account = account;
    this.#onTrouble = onTrouble;
    this.#stopped = stopped;
  }

  stop(): void {
    clearTimeout(this.#notFoundTimer);
    clearTimeout(this.#unreachable);
  }

  armUnreachable(): void {
    if (this.#unreachable || this.#stopped.aborted) return;
    this.#unreachable = setTimeout(() => this.#onTrouble('unreachable'), unreachableAfterMs);
  }

  /** The API server answered (a stream opened, or an error status): it can be reached. */
  reached(): void {
    clearTimeout(this.#unreachable);
    this.#unreachable = undefined;
  }

  /** Fields of the wrong type: each logged when first seen, and once when a Pod reads cleanly again. */
  fieldProblems(problems: string[]): void {
    for (const p of problems) {
      if (this.#badFields.has(p) || this.#badFields.size >= maxOddities) continue;
      this.#badFields.add(p);
      this.#log.warn('the Pod from the API has a field proa cannot read; taken as unknown', { field: p });
    }
    if (problems.length === 0 && this.#badFields.size > 0) {
      this.#log.info('the Pod from the API reads cleanly again', { resolved: [...this.#badFields] });
      this.#badFields.clear();
    }
  }

  /**
   * Something the API sent that proa cannot use: logged the first time, skipped always.
   * At most maxOddities kinds are remembered and logged for the whole run, then one line
   * says the rest are skipped unlogged: a server sending endless distinct event types
   * would otherwise grow memory and the log without bound.
   */
  odd(what: string): undefined {
    if (this.#oddities.has(what)) return undefined;
    if (this.#oddities.size < maxOddities) {
      this.#oddities.add(what);
      this.#log.warn(what);
    } else if (!this.#oddCapped) {
      this.#oddCapped = true;
      this.#log.warn(`the watch stream sent more than ${maxOddities} kinds of events proa cannot use; the rest are skipped without a word`);
    }
    return undefined;
  }

  /** The standing problem, for reminders: the API failing, or the Pod not found. */
  problem(): string | undefined {
    return this.#problemMsg ?? this.#podMissing;
  }

  /** The watch works again (an event arrived, or the stream stayed up): say so once. */
  resolved(): void {
    if (this.#problem !== undefined) {
      this.#log.info('Kubernetes API watch is healthy again', { resolved: this.#problem });
      this.#problem = undefined;
      this.#problemMsg = undefined;
    }
  }

  troubleOf(err: unknown): void {
    if (err instanceof ApiError) {
      this.reached();
      if (err.status === 403) this.#onTrouble('forbidden');
      if (err.status === 401) this.#onTrouble('unauthorized');
      return;
    }
    this.armUnreachable();
    this.#onTrouble('broken');
  }

  /** Logs each distinct problem once, when it starts. */
  report(err: unknown): void {
    const { key, level, msg, fields } = describeProblem(err, { pod: this.#target.pod.value, namespace: this.#target.namespace.value }, this.#account);
    if (key === this.#problem) {
      this.#log.debug('watch failed again', { problem: key });
      return;
    }
    this.#problem = key;
    this.#problemMsg = msg.replace(/\.? Retrying\.$/, '');
    this.#log[level](msg, fields);
  }

  armNotFound(): void {
    if (this.#podSeen || this.#notFoundTimer) return;
    this.#notFoundTimer = setTimeout(() => {
      const { pod, namespace } = this.#target;
      const fields: Record<string, unknown> = {
        pod: pod.value, podSource: pod.source, namespace: namespace.value, namespaceSource: namespace.source,
      };
      if (pod.source === 'hostname' && pod.value.length === 63) {
        fields.hint = 'the hostname is 63 characters long: the kubelet cuts longer Pod names there. ' +
          'Pass the name through the downward API: env POD_NAME from fieldRef metadata.name';
      }
      this.#podMissing = `Pod ${pod.value} (from ${pod.source}) not found in namespace ${namespace.value} (from ${namespace.source})`;
      this.#log.warn(`Pod not found after ${notFoundAfterMs / 1000}s; still waiting for it to appear`, fields);
    }, notFoundAfterMs);
  }

  seen(): void {
    if (this.#podSeen) return;
    this.#podSeen = true;
    this.#podMissing = undefined;
    clearTimeout(this.#notFoundTimer);
  }
}
