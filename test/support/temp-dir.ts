import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/**
 * A fresh directory under the OS temp directory (`kar-<name>-XXXXXX`), removed with everything in it after the
 * test file has run (`removeTempDirs`, which the unit tests' setup file calls in `afterAll`). Tests make their
 * kubeconfigs, secret files and rule files here rather than with `mkdtempSync`, which left ~190 folders behind
 * per `npm test`.
 */
export function tempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kar-${name}-`));
  made.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made in this test file. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
