/**
 * The reconcile task, what the CronJob's pod runs: one pass when there is nothing to do, more only while work is
 * left, a backlog behind GitHub's limits drained by the pod itself, and a stop when told to (SIGTERM) or when its
 * time is spent. Then the built process: `start.cjs reconcile` does its passes and exits, serving nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ReconcileTaskOptions, runReconcileTask } from '../functions/webhook/reconcile-task.js';
import { createLogger } from '../shared/log/create-logger.js';
import { runToExit } from '../stand-ins/server-process.js';
import {
  type AppHarness,
  addBacklog,
  GITHUB_TOKEN,
  startAppHarness,
  WEBHOOK_SECRET,
} from './support/app-harness.js';
import { tempDir } from './support/temp-dir.js';

let h: AppHarness;

afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

const log = createLogger('silent');
const started = () => [...h.kubernetes.jobs.values()].filter((job) => job.spec?.suspend === false).length;

function task(options: Partial<ReconcileTaskOptions> = {}) {
  const sleeps: number[] = [];
  const run = runReconcileTask(h.deps, log, {
    hooks: [],
    budgetMs: 2000,
    runForMs: 60_000,
    pauseMs: 50,
    sleep: async (ms) => {
      sleeps.push(ms);
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    ...options,
  });
  return { run, sleeps };
}

describe('the reconcile task', () => {
  it('does one pass and stops when nothing waits', async () => {
    h = await startAppHarness();
    const { run, sleeps } = task();
    expect(await run).toEqual({ passes: 1, workLeft: false, failures: 0 });
    expect(sleeps).toEqual([]);
  });

  it('drains a backlog behind GitHub’s limits by itself, pausing between passes while records wait', async () => {
    // 100 points in a 1 s window: at 5 points a registration, 24 records need more than one window.
    h = await startAppHarness({ GITHUB_POINTS_PER_MINUTE: '100', GITHUB_LIMIT_WINDOW_SECONDS: '1' });
    await addBacklog(h, 24);
    const { run, sleeps } = task({ budgetMs: 7000, pauseMs: 1100 });
    const report = await run;
    expect(started()).toBe(24);
    expect(report.workLeft).toBe(false);
    expect(report.passes).toBeGreaterThan(1);
    expect(sleeps.length).toBeGreaterThan(0);
  });

  it('goes on at once while a pass is cut short, with no pause', async () => {
    h = await startAppHarness({ RECONCILE_BUDGET_SECONDS: '2' });
    await addBacklog(h, 10);
    // Every GitHub answer takes 100 ms: 10 records need more than one 2 s pass.
    h.github.chaos(1, [{ delayMs: 100 }], () => 0);
    const { run, sleeps } = task();
    const report = await run;
    h.github.chaos(0, [], () => 0);
    expect(report.passes).toBeGreaterThan(1);
    expect(sleeps).toEqual([]);
    expect(started()).toBe(10);
  });

  it('stops with work left once its time is spent, and when told to stop', async () => {
    h = await startAppHarness({ MAX_RUNNERS: '1' });
    await addBacklog(h, 3);
    // Behind a cap of one, two records wait for as long as the first runner runs.
    const timed = await task({ runForMs: 2600 }).run;
    expect(timed.workLeft).toBe(true);
    expect(timed.passes).toBeGreaterThan(1);
    expect(started()).toBe(1);
    let passes = 0;
    const told = await task({ running: () => passes++ < 1 }).run;
    expect(told).toMatchObject({ passes: 1, workLeft: true });
  });
});

describe('start.cjs reconcile', () => {
  it('runs the task and exits 0 without listening, having started a record left unstarted', async () => {
    h = await startAppHarness();
    await addBacklog(h, 1);
    const { code, output } = await runToExit(
      {
        WEBHOOK_SECRET,
        GITHUB_TOKEN,
        GITHUB_API_URL: h.github.url,
        KUBECONFIG: h.kubernetes.writeKubeconfig(tempDir('task')),
        NAMESPACE: h.config.namespace,
        RUNNER_MODE: 'standard',
      },
      ['reconcile'],
    );
    expect(code, output).toBe(0);
    expect(output).toContain('"msg":"reconcile task done"');
    expect(output).not.toContain('"msg":"listening"');
    expect(started()).toBe(1);
  });
});
