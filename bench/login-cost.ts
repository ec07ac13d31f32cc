import { spawnSync } from 'node:child_process';
import { argon2, randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { CURRENT_ARGON2_PARAMS, hashPassword, verifyPassword } from '../lib/passwords/argon2.ts';
import { cpuMicros, fmtMs, fmtRatio, median, type Row } from './measure.ts';

/** OWASP's minimum for argon2id (Password Storage Cheat Sheet): m=19 MiB, t=2, p=1. */
const OWASP_MIN = { memory: 19456, passes: 2 };
/**
 * Our check may cost at most this much more CPU than one bare `node:crypto` argon2id derivation at OWASP's
 * minimum: the PHC parsing and constant-time compare around it are cheap, so more means parameters above the
 * minimum (a bigger compute bill per login) or waste in our code.
 */
const RATIO_BUDGET = 1.25;

/** One bare argon2id derivation at OWASP's minimum (the floor any compliant check pays). */
function bareArgon2(password: string, salt: Buffer): Promise<Buffer> {
  const params = { memory: OWASP_MIN.memory, passes: OWASP_MIN.passes, parallelism: 1 };
  return new Promise((done, fail) =>
    argon2('argon2id', { message: password, nonce: salt, tagLength: 32, ...params }, (error, key) =>
      error ? fail(error) : done(key),
    ),
  );
}

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

/**
 * What one login's password check costs at the production parameters, as **CPU time** (`process.cpuUsage`,
 * which counts every thread of the process, the libuv pool that runs argon2 included): wall time on a shared
 * machine measures the neighbours as much as the hash. Checks run one at a time; the median of 21.
 */
export async function benchLoginCost(): Promise<Row[]> {
  const password = 'correct horse battery staple';
  const stored = await hashPassword(password);
  const salt = randomBytes(16);
  const ours: number[] = [];
  const floor: number[] = [];
  const wall: number[] = [];
  const ratios: number[] = [];
  const check = async () => {
    const cpuBefore = cpuMicros();
    const start = performance.now();
    const result = await verifyPassword(stored, password);
    wall.push(performance.now() - start);
    if (!result.matches) throw new Error('the password did not verify');
    return (cpuMicros() - cpuBefore) / 1000;
  };
  const bare = async () => {
    const cpuBefore = cpuMicros();
    await bareArgon2(password, salt);
    return (cpuMicros() - cpuBefore) / 1000;
  };
  await check();
  await bare();
  // Alternating, the order swapped each round: a noisy neighbour weighs on both sides of a ratio alike.
  for (let round = 0; round < 21; round += 1) {
    let mine: number;
    let base: number;
    if (round % 2 === 0) {
      mine = await check();
      base = await bare();
    } else {
      base = await bare();
      mine = await check();
    }
    ours.push(mine);
    floor.push(base);
    ratios.push(mine / base);
  }
  const cpuMs = median(ours);
  const ratio = median(ratios);
  const memories = [peakMemoryOfOneHash(), peakMemoryOfOneHash(), peakMemoryOfOneHash()];
  const peakMiB = median(memories) / 1024;
  const { memory, passes, parallelism } = CURRENT_ARGON2_PARAMS;
  const strongEnough = memory >= OWASP_MIN.memory && passes >= OWASP_MIN.passes;
  return [
    {
      figure: 'login password check (argon2id): CPU per check / bare argon2id at OWASP min',
      value: `${fmtRatio(ratio)} (${fmtMs(cpuMs)} vs ${fmtMs(median(floor))} CPU; wall ${fmtMs(median(wall))}) at m=${memory} KiB, t=${passes}, p=${parallelism}`,
      budget: `<= ${fmtRatio(RATIO_BUDGET)}, at >= OWASP min (m=19456, t=2)`,
      met: ratio <= RATIO_BUDGET && strongEnough,
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
