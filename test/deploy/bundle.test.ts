import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { FUNCTION_BUNDLE } from '../../scripts/build.js';

/** Bytes each npm package puts into the function's bundle. */
async function bundleByPackage(): Promise<Map<string, number>> {
  const result = await build({ ...FUNCTION_BUNDLE, write: false, metafile: true, sourcemap: false });
  const output = Object.values(result.metafile?.outputs ?? {}).find(
    (entry) => entry.entryPoint !== undefined,
  );
  const sizes = new Map<string, number>();
  for (const [file, input] of Object.entries(output?.inputs ?? {})) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? '(project)';
    sizes.set(name, (sizes.get(name) ?? 0) + input.bytesInOutput);
  }
  return sizes;
}

describe('the production bundle', () => {
  it('holds no code of @kubernetes/client-node (types only): its models were most of the cold start', async () => {
    const sizes = await bundleByPackage();
    expect(sizes.get('(project)')).toBeGreaterThan(0);
    expect(sizes.has('hono')).toBe(true);
    // A value import of client-node (say, `loadYaml` or `KubeConfig`) would pull in ~1 MB of generated code
    // and its transitive dependencies (node-fetch, whatwg-url, ws, socks, ...).
    expect([...sizes.keys()].filter((name) => name.startsWith('@kubernetes/'))).toEqual([]);
    expect(sizes.has('node-fetch')).toBe(false);
  });
});
