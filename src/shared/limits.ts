// Every duration and size proa accepts from outside has its limit here, checked where
// the value enters (flags, environment, the Pod spec, the API's answers).

/**
 * Node's timers hold at most 2^31-1 ms (596h31m23.647s); a longer delay fires after
 * 1 ms with a TimeoutOverflowWarning, which would turn a day-long --ready-timeout into
 * an instant exit 5. No duration proa takes may pass it.
 */
export const maxDurationMs = 2_147_483_647;
export const maxDurationText = '2147483647ms (596h31m23s)';

/**
 * The largest Pod document proa reads, as one watch line or one GET answer. A real Pod's
 * JSON passes 1 MiB with managedFields and large annotations (the API server's own
 * limit on an object is ~1.5 MiB in etcd); 8 MiB leaves room and still bounds what a
 * broken stream can make proa hold, memory that counts against the application
 * container's limit.
 */
export const maxPodDocumentBytes = 8 * 1024 * 1024;
export const maxPodDocumentText = '8 MiB';

/** An API error answer (a Status object) is read up to this size, and for at most this long. */
export const maxErrorBodyBytes = 64 * 1024;
export const errorBodyDeadlineMs = 5_000;

/** A string from the API that proa may log (a waiting reason's message) is cut here. */
export const maxLoggedStringChars = 1024;

/** A container's restartPolicyRules, and the exit codes in one rule: the API's own caps (validation.go). */
export const maxRestartRules = 20;
export const maxRuleCodes = 255;

/**
 * A readiness probe's request as the spec gives it (httpGet's path, host, headers; grpc's
 * service): the API sets no cap, so proa does. More headers, or a longer text, and the
 * probe stays the kubelet's alone (named once).
 */
export const maxProbeHeaders = 32;
export const maxProbeTextChars = 4096;

/** A delay for setTimeout, never past what Node's timers hold. */
/** `text` cut to `max` bytes of UTF-8, never inside a character, `tail` marking the cut (within `max`). */
export function cutUtf8(text: string, max: number, tail: string): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= max) return text;
  let end = max - Buffer.byteLength(tail);
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString() + tail;
}

export function timerMs(ms: number): number {
  return Math.min(maxDurationMs, Math.max(0, ms));
}

/** Resolves after `ms` (clamped by timerMs), or as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, timerMs(ms));
    signal?.addEventListener('abort', done);
  });
}
