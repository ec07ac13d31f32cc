import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BuildOptions, build } from 'esbuild';
import { bundlingOptions } from '../infra/bundling.ts';
import { type FunctionName, functionNames } from '../infra/routes.ts';
import { fmtKb, fmtMs, fmtRatio, median, type Row } from './measure.ts';

const root = resolve(import.meta.dirname, '..');

/** esbuild options equal to what the stack deploys (infra/bundling.ts). */
const deployed: BuildOptions = {
  bundle: true,
  format: bundlingOptions.format,
  platform: bundlingOptions.platform,
  target: bundlingOptions.target,
  minify: bundlingOptions.minify,
  sourcemap: bundlingOptions.sourcemap,
  external: [...bundlingOptions.externalModules],
  banner: { js: bundlingOptions.banner },
  mainFields: [...bundlingOptions.mainFields],
  logLevel: 'silent',
};

/**
 * The third-party imports a function's code makes, exactly as used (esbuild tree-shakes our code with every
 * package left external, so what remains are the import statements of the bindings actually used).
 */
async function thirdPartyImports(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: bundlingOptions.target,
    packages: 'external',
    write: false,
    minify: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.text ?? '';
  return [...code.matchAll(/^import\s+[^;]*?from\s+"([^"]+)";$/gms)]
    .map((match) => match[0])
    .filter((statement) => !/from\s+"node:/.test(statement));
}

/**
 * A reference entry that imports the same third-party bindings and only keeps them alive (so they are not
 * tree-shaken away): the cold start a function would have if our own code cost nothing.
 */
function referenceSource(imports: string[]): string {
  const names: string[] = [];
  for (const statement of imports) {
    const clause = (statement.match(/^import\s+([\s\S]*?)\s+from/) as RegExpMatchArray)[1] as string;
    for (const part of clause.replace(/[{}]/g, ',').split(',')) {
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .pop()
        ?.replace(/^\*\s*as\s+/, '')
        .trim();
      if (name) names.push(name.replace(/^\*\s+as\s+/, ''));
    }
  }
  return `${imports.join('\n')}\nglobalThis.__reference = [${names.join(', ')}];\n`;
}

/**
 * Imports one module in the fresh process it runs in and prints how long the import took, in ms: node's own
 * start-up is left out of the figure (and the empty module's import is subtracted), which makes the figure far
 * less noisy than the wall time of the whole process.
 */
const IMPORT_TIMER = `const start = process.hrtime.bigint();
await import(process.argv[2]);
process.stdout.write(String(Number(process.hrtime.bigint() - start) / 1e6));
`;

/** A fresh `node` importing `file`: the import's time in ms. */
function runOnce(timer: string, file: string): number {
  const result = spawnSync(process.execPath, [timer, file], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (result.status !== 0) throw new Error(`node ${file} failed: ${result.stderr.toString().slice(0, 500)}`);
  return Number(result.stdout.toString());
}

export interface ColdStartOptions {
  runs: number;
  /** Only these functions (all when absent). */
  only?: readonly FunctionName[];
}

/** Bundle size and module initialisation time per function, against a reference bundle of its dependencies. */
export async function benchColdStart(options: ColdStartOptions = { runs: 21 }): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-cold-start-'));
  try {
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, '');
    const timer = join(dir, 'import-timer.mjs');
    writeFileSync(timer, IMPORT_TIMER);
    const bundles: {
      name: FunctionName;
      bundle: string;
      reference: string;
      size: number;
      refSize: number;
    }[] = [];
    for (const name of options.only ?? functionNames) {
      const entry = join(root, 'functions', `${name}.ts`);
      const out = join(dir, name);
      mkdirSync(out);
      const bundle = join(out, 'index.mjs');
      await build({ ...deployed, entryPoints: [entry], outfile: bundle });
      const reference = join(out, 'reference.mjs');
      await build({
        ...deployed,
        stdin: { contents: referenceSource(await thirdPartyImports(entry)), resolveDir: root, loader: 'js' },
        outfile: reference,
      });
      bundles.push({
        name,
        bundle,
        reference,
        size: statSync(bundle).size,
        refSize: statSync(reference).size,
      });
    }
    // Every round runs each function's bundle and its reference back to back (in alternating order) and
    // the empty module once, so that a noisy moment on this shared machine hits both sides of a ratio alike.
    const times = new Map<string, number[]>();
    const ratios = new Map<string, number[]>();
    const time = (file: string) => {
      const ms = runOnce(timer, file);
      times.set(file, [...(times.get(file) ?? []), ms]);
      return ms;
    };
    for (const b of bundles) runOnce(timer, b.bundle); // warm the file cache
    for (let run = 0; run < options.runs; run += 1) {
      const emptyMs = time(empty);
      for (const b of bundles) {
        let own: number;
        let ref: number;
        if (run % 2 === 0) {
          own = time(b.bundle);
          ref = time(b.reference);
        } else {
          ref = time(b.reference);
          own = time(b.bundle);
        }
        ratios.set(b.name, [...(ratios.get(b.name) ?? []), (own - emptyMs) / (ref - emptyMs)]);
      }
    }
    const base = median(times.get(empty) as number[]);
    const rows: Row[] = [
      {
        figure: 'cold start: empty module import (subtracted)',
        value: fmtMs(base),
        budget: '-',
        met: undefined,
      },
    ];
    for (const b of bundles) {
      const init = median(times.get(b.bundle) as number[]) - base;
      const refInit = median(times.get(b.reference) as number[]) - base;
      const ratio = median(ratios.get(b.name) as number[]);
      rows.push({
        figure: `cold start: ${b.name}`,
        value: `${fmtKb(b.size)}, init ${fmtMs(init)}; ref ${fmtKb(b.refSize)}, ${fmtMs(refInit)}; ${fmtRatio(ratio)}`,
        budget: '<= 1.20x ref init',
        met: ratio <= 1.2,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
