import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { bundlingOptions } from '../../infra/bundling.ts';
import { functionNames } from '../../infra/routes.ts';

/**
 * The common-password dictionary (about 49,000 entries) is loaded only where a new password is judged: it must be
 * in the register and change-password bundles and in no other, above all not in the authorizer's, which runs on
 * every API call.
 * Bundled as the stack bundles (same options), with esbuild's metafile listing what went in.
 */
async function bundledInputs(name: string): Promise<string[]> {
  const result = await build({
    entryPoints: [`functions/${name}.ts`],
    bundle: true,
    write: false,
    metafile: true,
    outfile: `out/${name}.mjs`,
    format: bundlingOptions.format,
    platform: bundlingOptions.platform,
    target: bundlingOptions.target,
    mainFields: [...bundlingOptions.mainFields],
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs);
}

const dictionary = (inputs: string[]) => inputs.filter((input) => input.includes('@zxcvbn-ts/'));

describe('the common-password dictionary', () => {
  const judgesNewPasswords: readonly string[] = ['register', 'change-password', 'reset-password'];

  it.each(judgesNewPasswords)('is bundled into %s', async (name) => {
    expect(dictionary(await bundledInputs(name))).not.toEqual([]);
  });

  it.each(functionNames.filter((name) => !judgesNewPasswords.includes(name)))(
    'is not bundled into %s',
    async (name) => {
      expect(dictionary(await bundledInputs(name))).toEqual([]);
    },
  );
});
