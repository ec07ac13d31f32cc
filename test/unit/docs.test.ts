import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { routes } from '../../infra/routes.ts';

// The code map (docs/ARCHITECTURE.md) stays true: every name it puts in backticks exists in the code, and every
// operation module is on it. Comments speak of the code, never of a tracker's numbers.

const root = fileURLToPath(new URL('../..', import.meta.url));
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((path) => path !== '' && existsSync(join(root, path)));
const codeFiles = tracked.filter(
  (path) =>
    /\.(ts|mjs|js|html)$/.test(path) &&
    !path.startsWith('docs/') &&
    !path.includes('node_modules') &&
    path !== 'test/unit/docs.test.ts',
);
const code = codeFiles.map((path) => readFileSync(join(root, path), 'utf8')).join('\n');
const architecture = readFileSync(join(root, 'docs/ARCHITECTURE.md'), 'utf8');

/** The spans of a markdown text in single backticks (code blocks left out). */
function backticked(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '');
  return [...prose.matchAll(/`([^`\n]+)`/g)].map((match) => match[1] ?? '');
}

const wordIn = (text: string, word: string) =>
  new RegExp(`(^|[^\\w$])${word.replace(/[$.]/g, '\\$&')}($|[^\\w$])`).test(text);

/**
 * Whether a URL path (`/auth/sessions/{sessionId}`, optionally after its method) is served: a route of
 * infra/routes.ts (with that method, when one is given), or a path the local server serves by itself (its pages,
 * written as a string literal in the code).
 */
function routeExists(span: string): boolean {
  const [method, path] = span.includes(' ') ? span.split(' ') : [undefined, span];
  if (routes.some((route) => route.path === path && (method === undefined || route.method === method)))
    return true;
  return (
    method === undefined &&
    [`'${path}'`, `"${path}"`, `\`${path}\``].some((literal) => code.includes(literal))
  );
}

/** What a backticked span claims exists, and whether it does (`undefined`: the span names nothing to check). */
function exists(span: string): boolean | undefined {
  const name = span.replace(/\(\)$/, '');
  // A URL path (a route or a page of the local server), not a file.
  if (/^((GET|HEAD|POST|PATCH|DELETE) )?\/[\w\-./{}]*$/.test(name)) return routeExists(name);
  // A path (a pattern such as `lib/operations/<verb>.ts` names a family, not a file).
  if (/[/]|\.(ts|md|json|mjs)$/.test(name)) {
    if (name.includes('<') || name.includes(' ')) return undefined;
    const path = name.replace(/\/$/, '');
    return (
      existsSync(join(root, path)) ||
      tracked.some((file) => file === path || basename(file) === basename(path))
    );
  }
  // An identifier, a member (`a.b`), an environment variable or a kebab-case name (a module, a route).
  if (/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(name))
    return name.split('.').every((part) => wordIn(code, part));
  if (/^[a-z]+(-[a-z]+)+$/.test(name)) return code.includes(name);
  // Code in prose (a call, an arrow): the camelCase and PascalCase names in it must exist.
  const names = [...name.matchAll(/[A-Za-z_$][\w$]*/g)]
    .map((match) => match[0])
    .filter((word) => /[a-z][A-Z]|^[A-Z][a-z]/.test(word));
  return names.length === 0 ? undefined : names.every((word) => wordIn(code, word));
}

describe('docs/ARCHITECTURE.md', () => {
  it('names nothing that does not exist in the code', () => {
    const spans = backticked(architecture);
    expect(spans.length).toBeGreaterThan(20);
    expect(spans.filter((span) => exists(span) === false)).toEqual([]);
  });

  it('names every operation module of lib/operations/', () => {
    const operations = tracked
      .filter((path) => /^lib\/operations\/[^/]+\.ts$/.test(path))
      .map((path) => basename(path, '.ts'));
    expect(operations.length).toBeGreaterThan(10);
    expect(operations.filter((name) => !architecture.includes(`\`${name}\``))).toEqual([]);
  });

  it('the check refuses a name that does not exist', () => {
    expect(exists('noSuchFunctionAnywhere')).toBe(false);
    expect(exists('lib/store/no-such-module.ts')).toBe(false);
    expect(exists('sessionState')).toBe(true);
    expect(exists('lib/store/conditions.ts')).toBe(true);
    // A URL path is a route, or a page of the local server; not a file.
    expect(exists('/auth/sessions/{sessionId}')).toBe(true);
    expect(exists('DELETE /auth/sessions/{sessionId}')).toBe(true);
    expect(exists('PATCH /auth/sessions/{sessionId}')).toBe(false);
    expect(exists('/mailbox')).toBe(true);
    expect(exists('/auth/no-such-route')).toBe(false);
  });
});

describe('comments', () => {
  it('never point to tracker numbers (issue 8, issues 4 and 9, #12)', () => {
    const hits: string[] = [];
    for (const path of codeFiles.filter((file) => !file.startsWith('test/unit/docs.test.ts'))) {
      for (const [index, line] of readFileSync(join(root, path), 'utf8').split('\n').entries()) {
        const comment = /(\/\/|\/\*|^\s*\*)(.*)$/.exec(line)?.[2];
        if (comment && /\b[Ii]ssues? \d+|(^|[\s(])#\d{1,3}\b/.test(comment))
          hits.push(`${path}:${index + 1}`);
      }
    }
    expect(hits).toEqual([]);
  });
});
