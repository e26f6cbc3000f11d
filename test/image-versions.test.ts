/**
 * The versions scripts/images/ reads from the project's own sources: a renamed constant would leave an image
 * without its tag (`kar-runner-stand-in:`), which build.sh refuses only when it gets there.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PINNED_RUNNER_VERSION } from '../shared/config/runner-modes.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** A variable runner.sh sets, as build.sh sources it (with `root` set), without RUNNER_VERSION given. */
function runnerScriptVariable(name: string): string {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  return execFileSync(
    'bash',
    ['-c', `root=$1; source "$root/scripts/images/runner.sh"; printf '%s' "\${${name}}"`, 'bash', root],
    { encoding: 'utf8', env },
  );
}

describe("the runner stand-in image's version", () => {
  it("is the pinned runner release's, the one the default runner image runs", () => {
    expect(runnerScriptVariable('RUNNER_VERSION')).toBe(PINNED_RUNNER_VERSION);
    expect(runnerScriptVariable('RUNNER_REF')).toBe(`localhost/kar-runner-stand-in:${PINNED_RUNNER_VERSION}`);
  });
});
