import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { satisfies } from '../../infra/semver-satisfies.ts';

// The real semver (jsonwebtoken's dependency), to hold the bundles' stand-in to.
const semver = createRequire(import.meta.url)('semver') as {
  satisfies(version: string, range: string): boolean;
};

/** The ranges jsonwebtoken asks at import (lib/psSupported.js, asymmetricKeyDetailsSupported.js, rsaPssKeyDetailsSupported.js). */
const JSONWEBTOKEN_RANGES = ['^6.12.0 || >=8.0.0', '>=15.7.0', '>=16.9.0'];
const VERSIONS = [
  'v4.9.1',
  'v6.11.5',
  'v6.12.0',
  'v7.10.1',
  'v8.0.0',
  'v15.6.9',
  'v15.7.0',
  'v16.8.0',
  'v16.9.0',
  'v24.21.0',
  process.version,
];

describe('the bundles’ stand-in for semver', () => {
  it.each(JSONWEBTOKEN_RANGES)('answers %s as semver does, for old and current Node versions', (range) => {
    for (const version of VERSIONS)
      expect(satisfies(version, range), version).toBe(semver.satisfies(version, range));
  });

  it('refuses a range it does not understand rather than answering it wrong', () => {
    expect(() => satisfies(process.version, '~16.0.0')).toThrow(/unsupported range/);
    expect(() => satisfies(process.version, '>=16')).toThrow(/unsupported range/);
  });
});
