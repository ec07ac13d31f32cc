import { type ChildProcess, spawn } from 'node:child_process';

/** `npm start`, run as a user runs it, on a free port. */
export interface NpmStart {
  url: string;
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /**
   * `kill <pid>` of npm itself (SIGTERM unless told), as a user or a process manager does, and waits (with a
   * deadline) for npm to exit. Resolves to npm's exit code or signal.
   */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
  /** SIGKILL to the whole process group: the clean-up of last resort. */
  kill(): void;
}

const DEADLINE_MS = 60_000;

/** Starts `npm start -- ...args` with `env` (PORT=0 and no JWT_SECRET unless given) and waits until it listens. */
export async function npmStart(args: string[] = [], env: Record<string, string> = {}): Promise<NpmStart> {
  const child = spawn('npm', ['start', ...(args.length > 0 ? ['--', ...args] : [])], {
    env: { ...process.env, PORT: '0', JWT_SECRET: '', ...env },
    // Its own process group, so that the clean-up can reach the server under npm whatever happens.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const kill = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const url = await new Promise<string>((resolve, reject) => {
    // A deadline, not a wait: on a busy machine npm and a cold node can take a while to come up.
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`npm start did not come up:\n${output}`));
    }, DEADLINE_MS);
    const check = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    kill,
    async stop(signal = 'SIGTERM') {
      process.kill(child.pid as number, signal);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`npm start did not stop on ${signal}:\n${output}`)),
          DEADLINE_MS,
        );
      });
      try {
        return await Promise.race([exited, deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Runs `npm start` to its end (it should refuse to start) and returns its exit code and output. */
export async function npmStartFailing(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  const child = spawn('npm', ['start', ...(args.length > 0 ? ['--', ...args] : [])], {
    env: { ...process.env, PORT: '0', JWT_SECRET: '', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const timer = setTimeout(() => process.kill(-(child.pid as number), 'SIGKILL'), DEADLINE_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}
