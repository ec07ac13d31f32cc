import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionNames } from '../../infra/routes.ts';
import { buildFunctionBundles } from '../../scripts/build-package.ts';
import { type NpmStart, npmStart } from '../support/npm-start.ts';

/**
 * The README's code blocks, extracted from the README and run as written against `npm start`: the curl
 * walk-through (only `API=` points at this run's port; each `# …` line under a command is what that command
 * must print), and every block marked `<!-- readme-test: run sh -->` or `run node`, in the clone. Every other
 * block says where it runs (`elsewhere: <test or script>`) or why it cannot run here (`not here: <reason>`).
 */
const root = join(dirname(new URL(import.meta.url).pathname), '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const run = promisify(execFile);
const bin = join(root, 'node_modules', '.bin');

interface Block {
  line: number;
  lang: string;
  code: string;
  kind: 'walk-through' | 'run sh' | 'run node' | 'elsewhere' | 'not here' | undefined;
  note: string;
}

/** Every fenced block of the README, with the `<!-- readme-test: kind: note -->` marker on the line above. */
const blocks: Block[] = [
  ...readme.matchAll(/^(?:<!-- readme-test: ([^:>]+?)(?:: (.*?))? -->\n)?```(\w*)\n([\s\S]*?)^```/gm),
].map((match) => ({
  line: readme.slice(0, match.index).split('\n').length,
  kind: match[1] as Block['kind'],
  note: match[2] ?? '',
  lang: match[3] ?? '',
  code: match[4] ?? '',
}));
const blocksOf = (kind: Block['kind']) => blocks.filter((block) => block.kind === kind);
/** The code of the one block of `kind` that contains `text`. */
function codeOf(kind: Block['kind'], text: string): string {
  const found = blocksOf(kind).filter((block) => block.code.includes(text));
  if (found.length !== 1) throw new Error(`${found.length} README blocks marked ${kind} contain ${text}`);
  return (found[0] as Block).code;
}

/** The first ```sh block after `heading`. */
function shellBlock(heading: string): string {
  const section = readme.slice(readme.indexOf(heading));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error(`no sh block after ${heading}`);
  return match[1];
}

/** A command's documented output: `# {...}` or `# 204`; `…` is anything; a note after three spaces is prose. */
function expectedOutputs(script: string): RegExp[] {
  const lines = script.split('\n');
  const expected: RegExp[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const previous = lines[i - 1] as string;
    if (!/^# (\{|\d{3}\b)/.test(line) || previous.startsWith('#') || previous.trim() === '') continue;
    const text = line.slice(2).split('   (')[0]?.trim() as string;
    const pattern = text
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    expected.push(new RegExp(`^${pattern}$`));
  }
  return expected;
}

const script = shellBlock('## Walk-through with curl');
/** `npm start` as the README starts it (in memory, so the checkout's .local-data/ is left alone). */
let server: NpmStart;
/** `SIGNING_ALG=ES256 KEY_CACHE_MAX_AGE=5 npm start` on a data directory of its own: the rehearsal and jose. */
let es256: NpmStart;
let es256DataDir: string;

beforeAll(async () => {
  es256DataDir = mkdtempSync(join(tmpdir(), 'auth-readme-es256-'));
  [server, es256] = await Promise.all([
    npmStart(['--in-memory']),
    npmStart([], { SIGNING_ALG: 'ES256', KEY_CACHE_MAX_AGE: '5', LOCAL_DATA_DIR: es256DataDir }),
  ]);
}, 90_000);
afterAll(() => {
  server?.kill();
  es256?.kill();
  if (es256DataDir) rmSync(es256DataDir, { recursive: true, force: true });
});

/** A value `npm start` printed as `NAME=value`, as a user copies it. */
const printed = (run: NpmStart, name: string) =>
  new RegExp(`^${name}=(\\S+)$`, 'm').exec(run.output())?.[1] as string;

/** Runs a README shell block as written with bash, in the clone, with `env` exported. */
async function runShell(code: string, env: Record<string, string>) {
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}${delimiter}${process.env.PATH}`,
    ...env,
  };
  delete environment.AWS_ENDPOINT_URL_SSM;
  return run('bash', ['-e', '-o', 'pipefail', '-c', code], { cwd: root, env: environment, timeout: 120_000 });
}

/** Saves a README JavaScript block as `name` in a directory of the clone and runs it with Node 24. */
async function runNode(name: string, code: string, env: Record<string, string> = {}) {
  const dir = join(root, 'test-output', 'readme');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), code);
  return run(join(bin, 'node'), [name], { cwd: dir, env: { ...process.env, ...env }, timeout: 60_000 });
}

describe('the README code blocks', () => {
  it('each says whether it runs here, runs elsewhere (naming the test or script), or why not here', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(15);
    const unmarked = blocks
      .filter((block) => block.kind === undefined)
      .map((block) => `README.md:${block.line}`);
    expect(unmarked).toEqual([]);
    for (const block of blocks) {
      if (block.kind === 'not here') expect(block.note, `README.md:${block.line}`).not.toBe('');
      if (block.kind === 'elsewhere') {
        const paths = block.note.match(/[\w.-]+(?:\/[\w.-]+)+/g) ?? [];
        expect(paths.length, `README.md:${block.line}`).toBeGreaterThan(0);
        for (const path of paths)
          expect(existsSync(join(root, path)), `${path} (README.md:${block.line})`).toBe(true);
      }
    }
    expect(blocksOf('walk-through')).toHaveLength(1);
    expect(blocksOf('run sh').length + blocksOf('run node').length).toBeGreaterThanOrEqual(4);
  });
});

describe('the README walk-through', () => {
  it('documents an output for every command that prints one', () => {
    expect(script).toContain('API=http://127.0.0.1:3000\n');
    expect(expectedOutputs(script).length).toBeGreaterThanOrEqual(7);
  });

  it('tries the deployed API with the same commands, from the stack output ApiUrl', () => {
    const deployed = shellBlock('### Try the deployed API');
    expect(deployed).toContain("OutputKey=='ApiUrl'");
    for (const line of deployed.split('\n').filter((l) => l.startsWith('curl') || l.startsWith('json='))) {
      expect(script).toContain(`${line}\n`);
    }
  });

  it('runs as written against npm start, each command printing what the README says', async () => {
    const walk = script.replace('API=http://127.0.0.1:3000\n', `API=${server.url}\n`);
    const { stdout } = await run('bash', ['-e', '-o', 'pipefail', '-c', walk], {
      cwd: mkdtempSync(join(tmpdir(), 'auth-readme-')),
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` },
      timeout: 60_000,
    });
    const printed = stdout.split('\n').filter((line) => line !== '');
    const expected = expectedOutputs(script);
    expect(printed).toHaveLength(expected.length);
    printed.forEach((line, i) => {
      expect(line, `output ${i + 1}`).toMatch(expected[i] as RegExp);
    });
  });
});

describe('the other README blocks that run here, as written', () => {
  it("administration: every command against npm start's store (after the walk-through made alice)", async () => {
    const code = codeOf('run sh', 'npm run admin');
    const { stdout } = await runShell(code, {
      DYNAMODB_ENDPOINT: printed(server, 'DYNAMODB_ENDPOINT'),
    });
    expect(stdout).toMatch(/alice/);
  }, 120_000);

  it('the Node client example, saved as demo.mjs in the clone (only the port differs)', async () => {
    const code = codeOf('run node', '@lambda-token-auth/client');
    expect(code).toContain("baseUrl: 'http://127.0.0.1:3000'");
    const { stdout } = await runNode('demo.mjs', code.replace('http://127.0.0.1:3000', server.url));
    expect(stdout).toBe('logged in as bob\n');
  });

  it('the key rotation rehearsal, against an ES256 npm start on its data directory', async () => {
    const code = codeOf('run sh', 'secret:rotate -- --local');
    const { stdout } = await runShell(code, { LOCAL_DATA_DIR: es256DataDir });
    expect(stdout).toMatch(/had no staged key: staged/);
    expect(stdout).toMatch(/rotated \S+: \S+ now signs/);
    expect(stdout).toMatch(/created \/auth-service\/es256-keys \(ES256\)/);
  }, 120_000);

  it('the jose verifier, with the issuer of an ES256 npm start and one of its access tokens', async () => {
    const code = codeOf('run node', "from 'jose'");
    const issuer = "'https://abc123.execute-api.eu-west-1.amazonaws.com/v1'";
    expect(code).toContain(issuer);
    const credentials = { username: 'jose-reader', password: 'correct horse battery staple' };
    for (const path of ['/auth/register', '/auth/login']) {
      const answer = await fetch(`${es256.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
      });
      if (path === '/auth/login') {
        const { accessToken } = (await answer.json()) as { accessToken: string };
        const claims = JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString());
        const { stdout } = await runNode(
          'verify.mjs',
          `const token = process.env.TOKEN;\n${code.replace(issuer, `'${es256.url}'`)}`,
          { TOKEN: accessToken },
        );
        expect(stdout).toBe(`${claims.sub} ${claims.sid}\n`);
      }
    }
  });
});

describe('the figures the README quotes', () => {
  it('bundle sizes: every row is the freshly built bundle (and its zip) to within 10%', async () => {
    const rows = [...readme.matchAll(/^\|\s*`([\w-]+)`\s*\|\s*(\d+) KiB\s*\|\s*(\d+) KiB\s*\|$/gm)].map(
      (match) => ({
        name: match[1] as string,
        bundle: Number(match[2]),
        zip: Number(match[3]),
      }),
    );
    expect(rows.length).toBeGreaterThan(0);
    const outDir = mkdtempSync(join(tmpdir(), 'auth-readme-bundles-'));
    await buildFunctionBundles(outDir);
    const actual = rows.map(({ name }) => {
      expect(functionNames as readonly string[]).toContain(name);
      const bundle = join(outDir, name, 'index.mjs');
      // The deployment zip, estimated as its two members deflated at level 9 (a zip adds a few hundred bytes).
      const zipped = [bundle, `${bundle}.map`].reduce(
        (sum, file) => sum + deflateRawSync(readFileSync(file), { level: 9 }).length,
        0,
      );
      return { name, bundle: Math.round(statSync(bundle).size / 1024), zip: Math.round(zipped / 1024) };
    });
    rmSync(outDir, { recursive: true, force: true });
    const off = actual.filter((figure, i) => {
      const quoted = rows[i] as (typeof rows)[number];
      return (
        Math.abs(figure.bundle - quoted.bundle) > quoted.bundle * 0.1 ||
        Math.abs(figure.zip - quoted.zip) > quoted.zip * 0.1
      );
    });
    // A row off by more than 10% is listed with the figures just built: copy them into the README.
    expect(off).toEqual([]);
  }, 120_000);
});
