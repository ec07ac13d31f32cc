/** An EMF metric line as the functions print it (CloudWatch embedded metric format). */
export interface EmfRecord {
  _aws: { CloudWatchMetrics: { Namespace: string; Metrics: { Name: string }[] }[] };
  [field: string]: any;
}

/** The EMF lines printed on stdout while a capture is on, kept for assertions rather than printed. */
export interface EmfCapture {
  /** An offset into the captured output: pass it to `recordsSince` to see what came after. */
  mark(): number;
  /** The EMF records printed since `from`, parsed. */
  recordsSince(from: number): EmfRecord[];
  /** Puts stdout back as it was. */
  restore(): void;
}

/**
 * Captures stdout (the functions print their EMF metric lines there) so that a test can read what was
 * counted. EMF lines are swallowed, so a passing run stays quiet; everything else is printed as usual.
 */
export function captureEmfLines(): EmfCapture {
  let output = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    output += text;
    if (text.startsWith('{"_aws"')) {
      const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  return {
    mark: () => output.length,
    recordsSince: (from) =>
      output
        .slice(from)
        .split('\n')
        .filter((line) => line.startsWith('{"_aws"'))
        .map((line) => JSON.parse(line) as EmfRecord),
    restore: () => {
      process.stdout.write = write;
    },
  };
}

/** Sums each metric's value over EMF records. */
export function sumMetrics(records: EmfRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) {
    for (const { Name } of record._aws.CloudWatchMetrics[0]?.Metrics ?? [])
      counts[Name] = (counts[Name] ?? 0) + record[Name];
  }
  return counts;
}
