import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { CURRENT_ARGON2_PARAMS, hashPassword, verifyPassword } from '../lib/passwords/argon2.ts';
import { fmtMs, median, type Row } from './measure.ts';

/** OWASP's minimum for argon2id (Password Storage Cheat Sheet): m=19 MiB, t=2, p=1. */
const OWASP_MIN = { memory: 19456, passes: 2 };

/**
 * Peak resident memory a fresh process adds by hashing once, in KiB: its high-water mark after the hash minus
 * the one before. Read from /proc (VmHWM) because getrusage's maxRSS survives exec on Linux and so reports
 * the parent's peak.
 */
function peakMemoryOfOneHash(): number {
  const passwords = resolve(import.meta.dirname, '../lib/passwords/argon2.ts');
  const script = `
    const { readFileSync } = await import('node:fs');
    const peak = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
    const { hashPassword } = await import(${JSON.stringify(passwords)});
    await hashPassword('warm-up-other-code-paths', { memory: 8, passes: 1, parallelism: 1 });
    const before = peak();
    await hashPassword('correct horse battery staple');
    process.stdout.write(String(peak() - before));
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`memory probe failed: ${result.stderr.slice(0, 300)}`);
  return Number(result.stdout);
}

/** What one login's password check costs at the configured parameters: time and peak memory. */
export async function benchLoginCost(): Promise<Row[]> {
  const password = 'correct horse battery staple';
  const stored = await hashPassword(password);
  const times: number[] = [];
  await verifyPassword(stored, password);
  for (let i = 0; i < 15; i += 1) {
    const start = performance.now();
    const check = await verifyPassword(stored, password);
    times.push(performance.now() - start);
    if (!check.matches) throw new Error('the password did not verify');
  }
  const hashMs = median(times);
  const memories = [peakMemoryOfOneHash(), peakMemoryOfOneHash(), peakMemoryOfOneHash()];
  const peakMiB = median(memories) / 1024;
  const { memory, passes, parallelism } = CURRENT_ARGON2_PARAMS;
  const strongEnough = memory >= OWASP_MIN.memory && passes >= OWASP_MIN.passes;
  return [
    {
      figure: 'login password check (argon2id), median of 15',
      value: `${fmtMs(hashMs)} at m=${memory} KiB, t=${passes}, p=${parallelism}`,
      budget: '<= 50 ms, at >= OWASP min (m=19456, t=2)',
      met: hashMs <= 50 && strongEnough,
    },
    {
      figure: 'login password check: peak memory added',
      value: `${peakMiB.toFixed(1)} MiB`,
      // argon2 must fill its m KiB; much more than that would be memory our code wastes per login.
      budget: `<= 1.5 x m (${((memory / 1024) * 1.5).toFixed(1)} MiB)`,
      met: peakMiB <= (memory / 1024) * 1.5,
    },
  ];
}
