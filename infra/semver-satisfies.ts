/**
 * What the function bundles load instead of `semver` (an esbuild alias, `infra/bundling.ts`): jsonwebtoken's
 * only use of it is `semver.satisfies(process.version, range)` at import, to learn which key checks this Node
 * has, with ranges of `>=X.Y.Z` and `^X.Y.Z` clauses joined by `||`. This answers exactly those (28 KB less in
 * every bundle) and throws on any other range, so that a jsonwebtoken that starts asking something else fails
 * at import (the bundle tests) instead of being answered wrong.
 */
type Version = [number, number, number];

function parse(text: string): Version {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  if (!match) throw new Error(`semver-satisfies: not a version: ${text}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether `version` satisfies `range` (only `>=X.Y.Z` and `^X.Y.Z` clauses, joined by `||`). */
export function satisfies(version: string, range: string): boolean {
  const v = parse(version);
  return range.split('||').some((clause) => {
    const match = /^(>=|\^)(\d+\.\d+\.\d+)$/.exec(clause.trim());
    if (!match) throw new Error(`semver-satisfies: unsupported range: ${range}`);
    const bound = parse(match[2] as string);
    if (compare(v, bound) < 0) return false;
    // ^X.Y.Z with X > 0: the same major version.
    return match[1] === '>=' || v[0] === bound[0];
  });
}

export default { satisfies };
