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

/** Every file of the project, as paths from the root (what git tracks and more: node_modules and build output left out). */
function projectPaths(folder = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, folder))) {
    if (['node_modules', 'dist', '.git'].includes(entry)) continue;
    const path = folder === '' ? entry : `${folder}/${entry}`;
    found.push(path);
    if (statSync(join(root, path)).isDirectory()) found.push(...projectPaths(path));
  }
  return found;
}

const FILE_NAME = /^[\w.-]+\.(ts|cjs|js|json|ya?ml|md|sh|go|mod)$/;

/**
 * The project paths the README names: in inline code and fenced blocks, each word whose first folder is one of the
 * project's own (`knative/service.yaml`, `deployment/`), and in inline code each bare file name
 * (`replace-runner.ts`); in the Layout block, each name a line lists under its folder. Not a path: a URL, a
 * pattern (`*`, `<...>`, `{...}`), a label key (`app.kubernetes.io/name`) or another project's file.
 */
function readmePaths(readme: string, topLevel: ReadonlySet<string>): { paths: string[]; names: string[] } {
  const paths = new Set<string>();
  const names = new Set<string>();
  const word = (text: string, bare: boolean) => {
    for (const raw of text.split(/[\s,;()=]+/)) {
      const token = raw.replace(/^["'[]+|["'\]:.]+$/g, '').replace(/^\.\//, '');
      if (token === '' || /:\/\/|[*<>{}$]/.test(token)) continue;
      if (token.includes('/')) {
        if (topLevel.has(token.split('/')[0] ?? '')) paths.add(token.replace(/\/$/, ''));
      } else if (bare && FILE_NAME.test(token)) names.add(token);
    }
  };
  const fences = [...readme.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)];
  for (const [, block = ''] of fences) {
    if (!block.startsWith('functions/webhook/ ')) {
      word(block, false);
      continue;
    }
    // The Layout block: a line at the margin names top-level entries (then its description after two spaces);
    // a line indented by two names entries of the last folder; deeper lines continue a description.
    let folder = '';
    for (const line of block.split('\n')) {
      const indent = /^ */.exec(line)?.[0].length ?? 0;
      if (indent > 2 || line.trim() === '') continue;
      const listed = (line.trim().split(/ {2,}/)[0] ?? '').split(/[\s,+]+/).filter(Boolean);
      if (indent === 0) folder = listed[0]?.endsWith('/') ? (listed[0] ?? '') : '';
      for (const name of listed) paths.add(`${indent === 0 ? '' : folder}${name}`.replace(/\/$/, ''));
    }
  }
  const prose = readme.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '');
  for (const [, code = ''] of prose.matchAll(/`([^`\n]+)`/g)) word(code, true);
  return { paths: [...paths].sort(), names: [...names].sort() };
}

/** Path-like words of the README that are not this project's paths, and why. */
const NOT_OURS = new Map([
  ['.github/workflows/docker-publish.yml', "actions/runner's workflow, cited for the images it publishes"],
  ['.github/workflows/hello-self-hosted.yml', 'the example workflow the reader adds to their own repository'],
  ['deployment/kube-actions-runner', 'a kubectl resource (`kubectl logs deployment/kube-actions-runner`)'],
  ['start.cjs', "the bundle's entry, built from functions/webhook/start.ts into dist/ (the image's /app)"],
  ['dockerd-entrypoint.sh', "docker-library/docker's, cited for what the dind images run"],
  ['versions.json', "docker-library/docker's, cited for the platforms of the Docker images"],
]);

describe("the README's file paths", () => {
  const all = projectPaths();
  const topLevel = new Set(all.filter((path) => !path.includes('/')));
  const baseNames = new Set(all.map((path) => path.split('/').pop()));
  const { paths, names } = readmePaths(readFileSync(join(root, 'README.md'), 'utf8'), topLevel);

  it('names files and folders that exist', () => {
    const existing = new Set(all);
    expect(paths.length).toBeGreaterThan(50);
    expect(paths.filter((path) => !existing.has(path) && !NOT_OURS.has(path))).toEqual([]);
  });

  it('names no file that the project lacks, wherever it is', () => {
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((name) => !baseNames.has(name) && !NOT_OURS.has(name))).toEqual([]);
  });

  it('reads the Layout block and inline code as paths, and would see a missing one', () => {
    const sample = [
      '`knative/service.yaml`, `gone/x.ts`, `functions/missing.ts` and `nothing-here.ts`; `app.kubernetes.io/name`',
      '```',
      'functions/webhook/            the one function',
      '  start.ts                    process entry',
      '  a.ts, b.ts   one step each',
      '                              continued: c.ts',
      'shared/',
      '  records/                    the records',
      '```',
    ].join('\n');
    expect(readmePaths(sample, topLevel)).toEqual({
      paths: [
        'functions/missing.ts',
        'functions/webhook',
        'functions/webhook/a.ts',
        'functions/webhook/b.ts',
        'functions/webhook/start.ts',
        'knative/service.yaml',
        'shared',
        'shared/records',
      ],
      names: ['nothing-here.ts'],
    });
  });
});
