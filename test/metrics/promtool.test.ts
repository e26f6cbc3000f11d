/**
 * The shipped alerts and dashboard, judged by Prometheus' own promtool: each alert fires on series shaped like
 * what the statsd_exporter of knative/monitoring/ serves (one long-lived series per label set, born at 0 because
 * the push adapter seeds it, plus the job and instance labels of the PodMonitor's scrape), and stays quiet when
 * it should. The dashboard's queries are parsed here and run against a real Prometheus by the metrics proof.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, REGISTRATION_BUCKETS } from '../../shared/metrics/create-metrics.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from '../support/app-harness.js';
import { tempDir } from '../support/temp-dir.js';
import { missingPrometheusTools, promtool } from './tools.js';

const skip = missingPrometheusTools.length > 0;
const monitoring = new URL('../../knative/monitoring/', import.meta.url);
const rules = loadYaml<{ spec: { groups: { rules: { alert: string }[] }[] } }>(
  readFileSync(new URL('prometheus-rules.yaml', monitoring), 'utf8'),
);
const dashboardExprs = (
  JSON.parse(readFileSync(new URL('grafana-dashboard.json', monitoring), 'utf8')) as {
    panels: { targets: { expr: string }[] }[];
  }
).panels.flatMap((panel) => panel.targets.map((target) => target.expr));

/** The labels Prometheus adds when the PodMonitor scrapes the statsd_exporter. */
const scraped = 'job="github-runners/kube-actions-runner-statsd",instance="10.42.0.7:9102"';
const JIT = 'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig';
const ORG_JIT = 'POST /orgs/{org}/actions/runners/generate-jitconfig';
const DAY_S = 24 * 3600;

interface Case {
  readonly alert: string;
  readonly fires: boolean;
  readonly series: Record<string, string>;
  readonly evalTime: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

const annotationsOf = (alert: string): Record<string, string> => {
  for (const group of rules.spec.groups) {
    const rule = group.rules.find((r) => r.alert === alert) as { annotations?: Record<string, string> };
    if (rule) return rule.annotations ?? {};
  }
  throw new Error(`no alert ${alert}`);
};

const CASES: Case[] = [
  {
    alert: 'KubeActionsRunnerDeliveriesFailing',
    fires: true,
    series: {
      [`webhook_requests_total{${scraped},status="200",owner="octo",repo="hello"}`]: '0+10x40',
      [`webhook_requests_total{${scraped},status="502",owner="octo",repo="hello"}`]: '0+5x40',
    },
    evalTime: '30m',
    labels: { severity: 'warning' },
  },
  {
    alert: 'KubeActionsRunnerDeliveriesFailing',
    fires: false,
    series: {
      [`webhook_requests_total{${scraped},status="200",owner="octo",repo="hello"}`]: '0+10x40',
      [`webhook_requests_total{${scraped},status="502",owner="octo",repo="hello"}`]: '0 0+1x40',
      [`webhook_requests_total{${scraped},status="401"}`]: '0+50x40',
    },
    evalTime: '30m',
  },
  {
    alert: 'KubeActionsRunnerJitFailures',
    fires: true,
    series: { [`github_api_requests_total{${scraped},endpoint="${ORG_JIT}",status="422"}`]: '0+1x20' },
    evalTime: '16m',
    labels: { severity: 'warning' },
  },
  {
    alert: 'KubeActionsRunnerJitFailures',
    fires: false,
    series: {
      [`github_api_requests_total{${scraped},endpoint="${JIT}",status="201"}`]: '0+10x20',
      [`github_api_requests_total{${scraped},endpoint="${JIT}",status="422"}`]: '0 1 2 2x18',
    },
    evalTime: '16m',
  },
  {
    alert: 'KubeActionsRunnerRateLimitLow',
    fires: true,
    series: {
      [`github_api_rate_limit_remaining{${scraped},credential="pat:octo"}`]: '400x10',
      [`github_api_rate_limit_remaining{${scraped},credential="pat:hubot"}`]: '4999x10',
    },
    evalTime: '6m',
    labels: { severity: 'warning', credential: 'pat:octo' },
    annotations: { summary: 'GitHub API rate limit of pat:octo nearly spent (400 requests left)' },
  },
  {
    alert: 'KubeActionsRunnerRateLimitLow',
    fires: false,
    series: { [`github_api_rate_limit_remaining{${scraped},credential="pat:octo"}`]: '600x10' },
    evalTime: '6m',
  },
  {
    alert: 'KubeActionsRunnerNoWebhooks',
    fires: true,
    series: {
      [`runner_jobs_active{${scraped}}`]: '2x200',
      [`webhook_requests_total{${scraped},status="200",owner="octo",repo="hello"}`]: '0 3 3x200',
    },
    evalTime: '160m',
    labels: { severity: 'info' },
  },
  {
    alert: 'KubeActionsRunnerNoWebhooks',
    fires: false,
    series: {
      [`runner_jobs_active{${scraped}}`]: '2x200',
      [`webhook_requests_total{${scraped},status="200",owner="octo",repo="hello"}`]: '0+1x200',
    },
    evalTime: '160m',
  },
  {
    alert: 'KubeActionsRunnerMetricsDropped',
    fires: true,
    series: { [`metrics_push_failures_total{${scraped},outcome="dropped"}`]: '0 0 1x10' },
    evalTime: '5m',
    labels: { severity: 'info' },
  },
  {
    alert: 'KubeActionsRunnerMetricsDropped',
    fires: false,
    series: { [`metrics_push_failures_total{${scraped},outcome="retried"}`]: '0 0+1x10' },
    evalTime: '5m',
  },
  {
    // One refused runner is enough: every later one of that image would be refused too.
    alert: 'KubeActionsRunnerOutdated',
    fires: true,
    series: {
      [`runner_outdated_total{${scraped},profile="gpu"}`]: '0 0 1x10',
      [`runner_outdated_total{${scraped},profile="default"}`]: '0x12',
    },
    evalTime: '5m',
    labels: { severity: 'critical', profile: 'gpu' },
    annotations: {
      summary: 'GitHub refuses the runner version of profile gpu',
      description: annotationsOf('KubeActionsRunnerOutdated').description ?? '',
    },
  },
  {
    alert: 'KubeActionsRunnerOutdated',
    fires: false,
    series: { [`runner_outdated_total{${scraped},profile="default"}`]: '0x70 1 1x80' },
    evalTime: '150m',
  },
  {
    // promtool's clock starts at 0: at 10m, a deadline 9 days on fires, one 11 days on does not.
    alert: 'KubeActionsRunnerVersionDeadline',
    fires: true,
    series: {
      [`runner_version_deadline_timestamp_seconds{${scraped},profile="gpu"}`]: `${600 + 9 * DAY_S}x20`,
      [`runner_version_deadline_timestamp_seconds{${scraped},profile="big"}`]: `${600 + 11 * DAY_S}x20`,
    },
    evalTime: '10m',
    labels: { severity: 'warning', profile: 'gpu' },
    annotations: {
      summary: 'GitHub stops sending jobs to the runner version of profile gpu within 10 days',
      description: annotationsOf('KubeActionsRunnerVersionDeadline').description ?? '',
    },
  },
  {
    alert: 'KubeActionsRunnerVersionDeadline',
    fires: false,
    series: {
      [`runner_version_deadline_timestamp_seconds{${scraped},profile="big"}`]: `${600 + 11 * DAY_S}x20`,
    },
    evalTime: '10m',
  },

  {
    // Behind a cap for 40 minutes (its record made at -10m): fires after its 5 minutes, with the reason.
    alert: 'KubeActionsRunnerBacklog',
    fires: true,
    series: {
      [`runner_jobs_oldest_wait_seconds{${scraped},reason="cap"}`]: '600+60x60',
      [`runner_jobs_oldest_wait_seconds{${scraped},reason="starting"}`]: '3000x60',
    },
    evalTime: '40m',
    labels: { severity: 'warning', reason: 'cap' },
    annotations: {
      summary: 'A job has waited 50m 0s for a runner (cap)',
      description: annotationsOf('KubeActionsRunnerBacklog').description ?? '',
    },
  },
  {
    alert: 'KubeActionsRunnerBacklog',
    fires: false,
    series: { [`runner_jobs_oldest_wait_seconds{${scraped},reason="github"}`]: '0+60x20 0x40' },
    evalTime: '40m',
  },
  {
    alert: 'KubeActionsRunnerNotUp',
    fires: true,
    series: { [`runner_jobs_oldest_wait_seconds{${scraped},reason="starting"}`]: '0+60x30' },
    evalTime: '20m',
    labels: { severity: 'warning' },
    annotations: {
      summary: 'A runner has not come up for 20m 0s',
      description: annotationsOf('KubeActionsRunnerNotUp').description ?? '',
    },
  },
  {
    alert: 'KubeActionsRunnerNotUp',
    fires: false,
    series: { [`runner_jobs_oldest_wait_seconds{${scraped},reason="starting"}`]: '0+60x8 0x30' },
    evalTime: '20m',
  },
  {
    alert: 'KubeActionsRunnerRedeliveries',
    fires: true,
    series: {
      [`github_api_requests_total{${scraped},endpoint="POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",status="202"}`]:
        '0+1x60',
    },
    evalTime: '60m',
    labels: { severity: 'warning' },
    annotations: {
      summary: 'Reconcile had GitHub redeliver 60 failed deliveries in the last hour',
      description: annotationsOf('KubeActionsRunnerRedeliveries').description ?? '',
    },
  },
  {
    alert: 'KubeActionsRunnerRedeliveries',
    fires: false,
    series: {
      [`github_api_requests_total{${scraped},endpoint="POST /app/hook/deliveries/{delivery_id}/attempts",status="202"}`]:
        '0 1 2 3x60',
      [`github_api_requests_total{${scraped},endpoint="POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig",status="201"}`]:
        '0+5x60',
    },
    evalTime: '60m',
  },
  {
    alert: 'KubeActionsRunnerCredentialPaused',
    fires: true,
    series: {
      [`github_credential_pause_seconds{${scraped},credential="pat:octo"}`]: '0 900-60x15',
      [`github_credential_pause_seconds{${scraped},credential="pat:hubot"}`]: '0x16',
    },
    evalTime: '10m',
    labels: { severity: 'warning', credential: 'pat:octo' },
    annotations: {
      summary: 'GitHub has paused the credential pat:octo',
      description: annotationsOf('KubeActionsRunnerCredentialPaused').description ?? '',
    },
  },
  {
    // A pause of two minutes is GitHub's normal back-off: quiet.
    alert: 'KubeActionsRunnerCredentialPaused',
    fires: false,
    series: { [`github_credential_pause_seconds{${scraped},credential="pat:octo"}`]: '0 120 60 0x15' },
    evalTime: '10m',
  },
];

function rulesFile(dir: string, groups: unknown): string {
  const file = join(dir, 'rules.json');
  writeFileSync(file, JSON.stringify({ groups }));
  return file;
}

function testRules(testCase: Case): { status: number | null; output: string } {
  const dir = tempDir('rules');
  const file = rulesFile(dir, rules.spec.groups);
  const { summary, description } = annotationsOf(testCase.alert);
  const annotations = testCase.annotations ?? {
    ...(summary === undefined ? {} : { summary }),
    ...(description === undefined ? {} : { description }),
  };
  const test = {
    rule_files: [file],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: Object.entries(testCase.series).map(([series, values]) => ({ series, values })),
        alert_rule_test: [
          {
            eval_time: testCase.evalTime,
            alertname: testCase.alert,
            exp_alerts: testCase.fires
              ? [{ exp_labels: testCase.labels ?? {}, exp_annotations: annotations }]
              : [],
          },
        ],
      },
    ],
  };
  const testFile = join(dir, 'test.json');
  writeFileSync(testFile, JSON.stringify(test));
  return promtool(['test', 'rules', testFile]);
}

describe.skipIf(skip)('promtool on the shipped alerts', () => {
  it('every alert has a firing and a quiet case', () => {
    const alerts = rules.spec.groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const alert of alerts) {
      expect(
        CASES.filter((c) => c.alert === alert)
          .map((c) => c.fires)
          .sort(),
      ).toEqual([false, true]);
    }
  });

  it.each(CASES.map((c) => [c.alert, c.fires ? 'fires' : 'stays quiet', c] as const))(
    '%s %s',
    (_alert, _outcome, testCase) => {
      const result = testRules(testCase);
      expect(result.output).toContain('SUCCESS');
      expect(result.status).toBe(0);
    },
  );

  it('a case that expects the wrong outcome fails (the check can fail)', () => {
    const firing = CASES.find((c) => c.fires) as Case;
    const result = testRules({ ...firing, fires: false });
    expect(result.status).not.toBe(0);
  });

  it('accepts the rules file (promtool check rules)', () => {
    const file = rulesFile(tempDir('rules'), rules.spec.groups);
    const checked = promtool(['check', 'rules', file]);
    const count = rules.spec.groups.reduce((sum, group) => sum + group.rules.length, 0);
    expect(checked.output).toContain(`SUCCESS: ${count} rules found`);
    expect(checked.status).toBe(0);
  });

  it('parses every dashboard query (each as a recording rule for promtool)', () => {
    expect(dashboardExprs.length).toBeGreaterThanOrEqual(6);
    const file = rulesFile(tempDir('dashboard'), [
      {
        name: 'dashboard',
        rules: dashboardExprs.map((expr, i) => ({ record: `dashboard:query${i}`, expr })),
      },
    ]);
    const checked = promtool(['check', 'rules', file]);
    expect(checked.output).toContain(`SUCCESS: ${dashboardExprs.length} rules found`);
    const broken = rulesFile(tempDir('dashboard'), [
      { name: 'dashboard', rules: [{ record: 'broken', expr: 'sum(rate(webhook_requests_total[5m])' }] },
    ]);
    expect(promtool(['check', 'rules', broken]).status).not.toBe(0);
  });
});

describe('the statsd_exporter mapping', () => {
  it("keeps the buckets of the function's histograms", () => {
    const mapping = loadYaml<{ mappings: { name: string; histogram_options?: { buckets: number[] } }[] }>(
      readFileSync(new URL('statsd-mapping.yaml', monitoring), 'utf8'),
    );
    const buckets = (name: string) =>
      mapping.mappings.find((m) => m.name === name)?.histogram_options?.buckets;
    expect(buckets('webhook_latency_seconds')).toEqual(LATENCY_BUCKETS);
    expect(buckets('runner_queued_to_registered_seconds')).toEqual(REGISTRATION_BUCKETS);
  });
});

describe.skipIf(skip)('promtool on the live /metrics', () => {
  let h: AppHarness;
  beforeEach(async () => {
    h = await startAppHarness();
  });
  afterEach(() => h.close());

  it('accepts the live /metrics output after real deliveries', async () => {
    for (const jobId of [1, 2]) {
      const payload = queuedPayload({ jobId });
      h.github.addJob(payload.repository.full_name, payload.workflow_job);
      const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
      expect((await h.app.request('/webhook', { method: 'POST', headers, body })).status).toBe(200);
    }
    await h.app.request('/webhook', { method: 'POST', body: '{}' });
    const text = await (await h.app.request('/metrics')).text();
    expect(text).toContain('runner_jobs_created_total');
    const checked = promtool(['check', 'metrics'], text);
    expect(checked.output).toBe('');
    expect(checked.status).toBe(0);
  });

  it('rejects broken metrics text (the check can fail)', () => {
    const checked = promtool(['check', 'metrics'], '# TYPE x counter\nx{a="1"} notanumber\n');
    expect(checked.status).not.toBe(0);
  });
});
