import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

/** `npm run secret:init -- --help` (and rotate's): a help text, exit 0, and no AWS call at all. */
const script = new URL('../../scripts/signing-key.ts', import.meta.url).pathname;
const run = (args: string[]) =>
  promisify(execFile)(process.execPath, [script, ...args], {
    // No credentials and an endpoint nobody listens on: any AWS call would fail the command.
    env: {
      ...process.env,
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_SSM: 'http://127.0.0.1:9',
      AWS_PROFILE: '',
    },
    timeout: 30_000,
  });

describe('the signing-key command line', () => {
  it.each([['init'], ['rotate']])(
    '%s --help prints what the command does and its options, and exits 0',
    async (command) => {
      const { stdout, stderr } = await run([command, '--help']);
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^usage: npm run secret:init\|secret:rotate/);
      for (const option of ['--name', '--alg', '--kms-key-id', '--min-interval-seconds', '--force']) {
        expect(stdout).toContain(option);
      }
    },
  );

  it('refuses an unknown option with the usage, and a non-zero exit', async () => {
    const failed = await run(['init', '--bogus']).catch((error) => error);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/Unknown option '--bogus'[\s\S]*usage:/);
  });
});
