/** Small measuring helpers shared by the benchmarks: medians, interleaved ratios and the result table. */

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** CPU time this process has used so far (user + system, every thread), in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** CPU nanoseconds per call of the async `fn`, calls made one after another (for work that never waits on I/O). */
export async function cpuNsPerAsyncCall(fn: () => Promise<unknown>, iterations: number): Promise<number> {
  const before = cpuMicros();
  for (let i = 0; i < iterations; i += 1) await fn();
  return ((cpuMicros() - before) * 1000) / iterations;
}

/** CPU nanoseconds per call of `fn`, over `iterations` calls: unlike wall time, not the neighbours' turns. */
export function cpuNsPerCall(fn: () => unknown, iterations: number): number {
  const before = cpuMicros();
  for (let i = 0; i < iterations; i += 1) fn();
  return ((cpuMicros() - before) * 1000) / iterations;
}

/** Nanoseconds per call of `fn`, timed over `iterations` calls. */
export function nsPerCall(fn: () => unknown, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** Nanoseconds per call of the async `fn`, calls made one after another. */
export async function nsPerAsyncCall(fn: () => Promise<unknown>, iterations: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) await fn();
  return Number(process.hrtime.bigint() - start) / iterations;
}

export interface Comparison {
  /** Median ns per call of the subject and of the baseline. */
  subject: number;
  baseline: number;
  /** Median of the per-round ratios subject / baseline (each round times both back to back). */
  ratio: number;
}

/**
 * Times `subject` and `baseline` in alternating rounds (the order swapped every round), so that a noisy
 * neighbour slows both alike, and reports the median of the per-round ratios.
 */
export async function compare(
  subject: () => Promise<number> | number,
  baseline: () => Promise<number> | number,
  rounds: number,
): Promise<Comparison> {
  const subjects: number[] = [];
  const baselines: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    let s: number;
    let b: number;
    if (round % 2 === 0) {
      s = await subject();
      b = await baseline();
    } else {
      b = await baseline();
      s = await subject();
    }
    subjects.push(s);
    baselines.push(b);
    ratios.push(s / b);
  }
  return { subject: median(subjects), baseline: median(baselines), ratio: median(ratios) };
}

/** One line of the bench table. `met` is `undefined` for a figure printed for information only. */
export interface Row {
  figure: string;
  value: string;
  budget: string;
  met: boolean | undefined;
}

export const fmtNs = (ns: number) =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(2)} µs`;
export const fmtMs = (ms: number) => `${ms.toFixed(1)} ms`;
export const fmtRatio = (ratio: number) => `${ratio.toFixed(2)}x`;
export const fmtKb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;

export function printTable(rows: readonly Row[]): void {
  const cells = rows.map((row) => [
    row.figure,
    row.value,
    row.budget,
    row.met === undefined ? 'info' : row.met ? 'met' : 'NOT MET',
  ]);
  const header = ['figure', 'measured', 'budget', 'status'];
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((cell) => (cell[i] as string).length)),
  );
  const line = (cols: string[]) => `| ${cols.map((col, i) => col.padEnd(widths[i] as number)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const cell of cells) console.log(line(cell));
}
