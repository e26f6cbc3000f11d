/**
 * The map of the code, held by the import graph itself (type imports count: a cycle through a type still ties two
 * modules together). What `madge --circular` would say, without a dependency: TypeScript's own import scanner
 * (`ts.preProcessFile`) reads every import and re-export.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const FOLDERS = ['functions', 'shared', 'scripts', 'stand-ins', 'bench', 'test'];

function sourceFiles(folder: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, folder))) {
    const path = join(folder, entry);
    if (statSync(join(root, path)).isDirectory()) found.push(...sourceFiles(path));
    else if (/\.(ts|mts)$/.test(entry)) found.push(path);
  }
  return found;
}

const files = FOLDERS.flatMap(sourceFiles);

/** The project files a file imports (relative specifiers only; packages are not ours). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) =>
      relative(root, resolve(dirname(join(root, file)), specifier)).replace(/\.js$/, '.ts'),
    );
}

const graph = new Map(files.map((file) => [file, importsOf(file)]));

/** Every file reachable from `start`, itself included. */
function reachable(start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [start];
  while (stack.length > 0) {
    const file = stack.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    stack.push(...(graph.get(file) ?? []));
  }
  return seen;
}

/** The strongly connected components of more than one file, or of one file importing itself (Tarjan). */
function cycles(): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (file: string) => {
    indices.set(file, index);
    low.set(file, index);
    index += 1;
    stack.push(file);
    onStack.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!indices.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(file, Math.min(low.get(file) as number, indices.get(next) as number));
      }
    }
    if (low.get(file) === indices.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || graph.get(file)?.includes(file)) found.push(component.sort());
    }
  };
  for (const file of files) if (!indices.has(file)) visit(file);
  return found;
}

describe('the import graph', () => {
  it('resolves every relative import to a file of the project', () => {
    const missing = [...graph].flatMap(([file, imports]) =>
      imports.filter((target) => !graph.has(target)).map((target) => `${file} -> ${target}`),
    );
    expect(missing).toEqual([]);
  });

  it('has no cycles, counting type imports', () => {
    expect(cycles()).toEqual([]);
  });

  it('keeps shared/ from importing functions/, and production code and the build from importing test/', () => {
    const offending = [...graph].flatMap(([file, imports]) =>
      imports
        .filter(
          (target) =>
            (file.startsWith('shared/') && target.startsWith('functions/')) ||
            (!file.startsWith('test/') && target.startsWith('test/')),
        )
        .map((target) => `${file} -> ${target}`),
    );
    expect(offending).toEqual([]);
    for (const entry of [
      'functions/webhook/main.ts',
      'functions/webhook/start.ts',
      'scripts/build.ts',
      'scripts/doctor.ts',
    ]) {
      expect([...reachable(entry)].filter((file) => file.startsWith('test/'))).toEqual([]);
    }
  });

  it("copies into the image's build stage every file the build imports", () => {
    const copied = readFileSync(join(root, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((line) => /^COPY\s/.test(line) && !line.includes('--from='))
      .flatMap((line) => line.trim().split(/\s+/).slice(1, -1));
    // The entries the build bundles (scripts/build.ts names them), and what each imports.
    const needed = [
      'scripts/build.ts',
      'functions/webhook/main.ts',
      'functions/webhook/start.ts',
      'scripts/doctor.ts',
    ].flatMap((entry) => [...reachable(entry)]);
    const uncopied = needed.filter(
      (file) => !copied.some((source) => file === source || file.startsWith(`${source.replace(/\/$/, '')}/`)),
    );
    expect(uncopied).toEqual([]);
  });

  it('keeps files under 250 lines, unless the opening comment says why', () => {
    const long = files
      .filter((file) => !file.startsWith('test/'))
      .filter((file) => {
        const text = readFileSync(join(root, file), 'utf8');
        return text.split('\n').length > 250 && !/^\/\*\*[\s\S]*?longer than 250\s+(\*\s+)?lines/i.test(text);
      });
    expect(long).toEqual([]);
  });
});
