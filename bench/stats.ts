// One row of the benchmark's table: a figure's runs summarised.
export interface Summary {
  runs: number;
  min: number;
  median: number;
  p99: number;
  max: number;
}

/** Min, median, p99 (nearest rank) and max; NaN everywhere for no runs. */
export function summarise(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { runs: 0, min: NaN, median: NaN, p99: NaN, max: NaN };
  const median = n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { runs: n, min: s[0]!, median, p99: s[Math.max(0, Math.ceil(0.99 * n) - 1)]!, max: s[n - 1]! };
}

/** Nanoseconds on CLOCK_MONOTONIC, the clock bench/clock.c prints. */
export const now = (): bigint => process.hrtime.bigint();
export const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;
