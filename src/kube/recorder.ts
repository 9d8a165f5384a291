// Events on proa's own Pod, as client-go's recorder posts them, so that `kubectl describe
// pod` and `kubectl get events` tell the Job's story (report/story.ts) beside the kubelet's.
// Through events.k8s.io/v1 (`regarding`: the Pod with its uid, `fieldPath` naming proa's
// container); where that group is not served (404), the core v1 Event API, with
// `source.component: proa` and `involvedObject`.
//
// Never in the way of the lifecycle:
// - posted off its path: a bounded queue (16; what does not fit is dropped, counted,
//   said once), one request at a time, each with a 2 s deadline;
// - no retry storms: one retry on a 5xx or 429, then the Event is dropped; at most one
//   request a second sustained (a burst of 6 first: a fault-free Job's whole story);
// - no permission (403 on the first create): one info line naming the Role rule to add,
//   then nothing more is tried;
// - at exit, at most `flush`'s bound spent on what is queued, nothing when nothing is;
//   what the bound leaves unposted is named in one line (the log has the whole story).
// A wait that goes on is one Event series: its note cannot change once posted, so each
// reminder PATCHes `series.count` and `series.lastObservedTime` (core: `count` and
// `lastTimestamp`).
import { randomBytes } from 'node:crypto';
import type { Logger } from '../shared/log.ts';
import { redact } from '../shared/urls.ts';
import { cutUtf8 } from '../shared/limits.ts';
import type { ApiClient } from './client.ts';

export interface Regarding {
  pod: string;
  namespace: string;
  uid: string;
  container: string;
}

export type EventType = 'Normal' | 'Warning';

/** The API's caps: reason and action 128 characters, note 1 KiB, reportingInstance 128. */
const maxNameChars = 128;
const maxNoteBytes = 1024;
const maxQueued = 16;
const deadlineMs = 2000;
const burst = 6;
const perSecond = 1;

interface Posted {
  name: string;
  reason: string;
  count: number;
  group: Group;
}

type Group = 'events.k8s.io' | 'core';

interface Job {
  /** The Event's reason, to name it if it is left unposted at exit. */
  reason: string;
  run: () => Promise<void>;
}

/** RFC 3339 with microseconds, as the API's MicroTime. */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class Recorder {
  readonly #client: ApiClient;
  readonly #log: Logger;
  readonly #about: Regarding;
  readonly #queue: Job[] = [];
  #group: Group = 'events.k8s.io';
  #forbidden = false;
  #dropped = 0;
  #running: Promise<void> | undefined;
  /** The reason of the Event being posted now. */
  #posting: string | undefined;
  #tokens = burst;
  #refilled = performance.now();
  readonly #series = new Map<string, Posted>();

  constructor(client: ApiClient, log: Logger, about: Regarding) {
    this.#client = client;
    this.#log = log;
    this.#about = about;
  }

  /** One Event; `series`: a key whose later calls count up the same Event instead of posting another. */
  record(type: EventType, reason: string, action: string, note: string, series?: string): void {
    if (this.#forbidden) return;
    const known = series ? this.#series.get(series) : undefined;
    if (known) {
      known.count++;
      this.#enqueue({ reason: known.reason, run: () => this.#bump(known) });
      return;
    }
    const name = `${this.#about.pod.slice(0, 200)}.${randomBytes(8).toString('hex')}`;
    const posted: Posted = { name, reason: reason.slice(0, maxNameChars), count: 1, group: this.#group };
    if (series) this.#series.set(series, posted);
    const text = cutUtf8(redact(note), maxNoteBytes, '...');
    this.#enqueue({ reason: posted.reason, run: () => this.#create(posted, type, posted.reason, action.slice(0, maxNameChars), text) });
  }

  /** Until the queue is empty, `ms` at most; at once when nothing is queued. What is left then is named. */
  async flush(ms: number): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#idle(), new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); })]);
    clearTimeout(timer);
    const left = [...(this.#posting ? [this.#posting] : []), ...this.#queue.map((j) => j.reason)];
    if (left.length > 0 && !this.#forbidden) {
      this.#log.info(`Events not posted by exit (the API did not answer within ${ms}ms): ${left.join(', ')}; the log and the termination message tell those steps`, { events: left });
    }
  }

  async #idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  #enqueue(job: Job): void {
    if (this.#queue.length >= maxQueued) {
      if (this.#dropped++ === 0) this.#log.info('Events are coming faster than proa posts them: some are dropped (the log has them all)');
      return;
    }
    this.#queue.push(job);
    this.#running ??= this.#drain().finally(() => (this.#running = undefined));
  }

  async #drain(): Promise<void> {
    for (let job = this.#queue.shift(); job && !this.#forbidden; job = this.#queue.shift()) {
      this.#posting = job.reason;
      await this.#takeToken();
      try {
        await job.run();
      } catch {
        // An Event is a courtesy: a failure to post one changes nothing else.
      } finally {
        this.#posting = undefined;
      }
    }
    this.#queue.length = 0;
  }

  /** At most one request a second after the first `burst`. */
  async #takeToken(): Promise<void> {
    const now = performance.now();
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#refilled) / 1000) * perSecond);
    this.#refilled = now;
    if (this.#tokens >= 1) {
      this.#tokens--;
      return;
    }
    const waitMs = ((1 - this.#tokens) / perSecond) * 1000;
    await new Promise((resolve) => setTimeout(resolve, waitMs).unref());
    this.#tokens = 0;
    this.#refilled = performance.now();
  }

  /** One request, retried once on a 5xx or 429. */
  async #send(method: 'POST' | 'PATCH', path: string, body: unknown): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const r = await this.#client.request(method, path, body, deadlineMs).catch(() => ({ status: 0 }));
      if (attempt === 0 && (r.status >= 500 || r.status === 429)) continue;
      return r.status;
    }
  }

  #path(group: Group, name?: string): string {
    const ns = encodeURIComponent(this.#about.namespace);
    const base = group === 'events.k8s.io' ? `/apis/events.k8s.io/v1/namespaces/${ns}/events` : `/api/v1/namespaces/${ns}/events`;
    return name ? `${base}/${encodeURIComponent(name)}` : base;
  }

  async #create(posted: Posted, type: EventType, reason: string, action: string, note: string): Promise<void> {
    const at = new Date();
    let status = await this.#send('POST', this.#path(this.#group), this.#body(this.#group, posted.name, type, reason, action, note, at));
    if (status === 404 && this.#group === 'events.k8s.io') {
      // The group is not served here: the core API, from now on.
      this.#group = 'core';
      status = await this.#send('POST', this.#path('core'), this.#body('core', posted.name, type, reason, action, note, at));
    }
    posted.group = this.#group;
    if (status === 403) {
      this.#forbidden = true;
      this.#log.info(`proa cannot post Events on its Pod (403): add to its Role the rule {apiGroups: ["events.k8s.io", ""], resources: ["events"], verbs: ["create", "patch"]} ` +
        'to see its steps in kubectl describe pod; nothing else changes (--events off stops trying)');
    }
  }

  async #bump(posted: Posted): Promise<void> {
    const now = new Date();
    const patch = posted.group === 'events.k8s.io'
      ? { series: { count: posted.count, lastObservedTime: microTime(now) } }
      : { count: posted.count, lastTimestamp: now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
    await this.#send('PATCH', this.#path(posted.group, posted.name), patch);
  }

  #body(group: Group, name: string, type: EventType, reason: string, action: string, note: string, at: Date): unknown {
    const a = this.#about;
    const fieldPath = `spec.containers{${a.container}}`;
    const instance = `${a.pod}/${a.container}`.slice(0, maxNameChars);
    if (group === 'events.k8s.io') {
      return {
        apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name, namespace: a.namespace },
        eventTime: microTime(at), reportingController: 'proa', reportingInstance: instance, action, reason, note, type,
        regarding: { apiVersion: 'v1', kind: 'Pod', name: a.pod, namespace: a.namespace, uid: a.uid, fieldPath },
      };
    }
    const seconds = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
    return {
      apiVersion: 'v1', kind: 'Event', metadata: { name, namespace: a.namespace },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: a.pod, namespace: a.namespace, uid: a.uid, fieldPath },
      reason, message: note, type, source: { component: 'proa' }, reportingComponent: 'proa', reportingInstance: instance, action,
      firstTimestamp: seconds, lastTimestamp: seconds, count: 1,
    };
  }
}
