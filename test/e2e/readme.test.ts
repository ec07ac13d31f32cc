import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NpmStart, npmStart } from '../support/npm-start.ts';

/**
 * The README's curl walk-through, extracted from the README and run as written (only `API=` points at this
 * run's port) against `npm start`; each `# …` line under a command is what that command must print.
 */
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

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
let server: NpmStart;

beforeAll(async () => {
  server = await npmStart(['--in-memory']);
}, 90_000);
afterAll(() => server?.kill());

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
    const run = script.replace('API=http://127.0.0.1:3000\n', `API=${server.url}\n`);
    const bin = join(dirname(new URL(import.meta.url).pathname), '../../node_modules/.bin');
    const { stdout } = await promisify(execFile)('bash', ['-e', '-o', 'pipefail', '-c', run], {
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
