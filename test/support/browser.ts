import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Debian's Chromium, which playwright-core drives (it never downloads a browser of its own). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Throws, saying how to get it, when Chromium is not installed. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`,
    );
  }
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `npm start`'s entry point running as a child process, as the browser tests use it. */
export interface LocalServerProcess {
  /** The API's URL as the server prints it (`http://127.0.0.1:<port>`). */
  url: string;
  port: number;
  /** The demo page's URL as the server prints it (`http://localhost:<port>`, a secure context), no final `/`. */
  pageUrl: string;
  process: ChildProcess;
  /** SIGTERM, then waits for the process to exit (at once when it already has). */
  stop(): Promise<void>;
}

/**
 * Starts `node infra/local/main.ts --in-memory` (the browser tests must not write to, or lock, the checkout's
 * `.local-data/`) with `env` over this process's environment, and resolves once it has printed where it listens
 * and its demo page; rejects with its output if it exits first.
 */
export function startLocalServerProcess(env: Record<string, string>): Promise<LocalServerProcess> {
  const child = spawn(process.execPath, ['infra/local/main.ts', '--in-memory'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const api = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(output);
      const page = /demo page: (http:\/\/localhost:\d+)\//.exec(output)?.[1];
      if (api?.[1] && api[2] && page)
        resolve({ url: api[1], port: Number(api[2]), pageUrl: page, process: child, stop });
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) =>
      reject(new Error(`the server exited (${code}) before listening:\n${output}`)),
    );
  });
}
