import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, type SigningAlgorithm } from '../../lib/tokens/keyring.ts';

/**
 * `LOCAL_DATA_DIR` (API.md, local settings): where `npm start` keeps what must outlive a restart, so that
 * accounts, sessions and the tokens already handed out stay valid:
 * - `dynamodb/`: the embedded store's LevelDB files;
 * - `signing-key-<alg>`: the key generated when `JWT_SECRET` is not set (one per `SIGNING_ALG`);
 * - `ssm-parameters.json`: key rings that `npm run secret:init` / `secret:rotate -- --local` put into the
 *   server's SSM stand-in (they win over the generated key); `ssm-endpoint`: where that stand-in listens, while
 *   the server runs.
 *
 * A local development convenience only: on AWS the key is in SSM and the data in DynamoDB.
 */
export const DEFAULT_LOCAL_DATA_DIR = '.local-data';

/** Creates the directory readable by its owner only: it holds a signing key. */
export function ensureDataDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Where the embedded store keeps its files. */
export const storePath = (dir: string) => join(ensureDataDir(dir), 'dynamodb');

/** Where the SSM stand-in keeps the parameters put into it (written only when something is put). */
export const ssmParametersPath = (dir: string) => join(dir, 'ssm-parameters.json');

const ssmEndpointPath = (dir: string) => join(dir, 'ssm-endpoint');

/** Records where the running server's SSM stand-in listens; returns the file (removed when the server stops). */
export function writeSsmEndpoint(dir: string, url: string): string {
  const file = ssmEndpointPath(ensureDataDir(dir));
  writeFileSync(file, url, { mode: 0o600 });
  return file;
}

/** The SSM endpoint of the server running on `dir`, if one is. */
export function readSsmEndpoint(dir: string): string | undefined {
  try {
    return readFileSync(ssmEndpointPath(dir), 'utf8').trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The signing key kept in `dir` for `algorithm`, generated and written (owner-only) on first use. Two servers
 * starting at once agree on one key: the file is created exclusively, and the loser reads the winner's.
 */
export function keptSigningKey(dir: string, algorithm: SigningAlgorithm): { key: string; file: string } {
  const file = join(ensureDataDir(dir), `signing-key-${algorithm.toLowerCase()}`);
  try {
    return { key: readFileSync(file, 'utf8'), file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = generateSigningKey(algorithm);
  try {
    writeFileSync(file, key, { flag: 'wx', mode: 0o600 });
    return { key, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { key: readFileSync(file, 'utf8'), file };
  }
}

/** Another server already uses the data directory (LevelDB allows one process per directory). */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Claims `dir` for this process (a `server.pid` file), so that a second `npm start` on the same directory stops
 * with a clear message instead of failing inside the store. A claim left by a process that is gone (killed
 * with SIGKILL) is taken over. Returns the release.
 */
export function claimDataDir(dir: string): () => void {
  const file = join(ensureDataDir(dir), 'server.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(file, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
      throw new DataDirInUseError(
        `${dir} is in use by another local server (pid ${holder}): stop it, or start with another LOCAL_DATA_DIR or --in-memory`,
      );
    }
    rmSync(file, { force: true }); // stale: its process is gone
  }
  throw new DataDirInUseError(`${dir}: could not claim it (another server is starting?)`);
}
