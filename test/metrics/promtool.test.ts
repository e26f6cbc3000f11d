import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from '../support/app-harness.js';
import { missingPrometheusTools, promtool } from './tools.js';

const skip = missingPrometheusTools.length > 0;
let h: AppHarness;

beforeEach(async () => {
  h = await startAppHarness();
});
afterEach(() => h.close());

describe.skipIf(skip)('promtool', () => {
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

  it('accepts the alerting rules of knative/prometheus-rules.yaml', () => {
    const rule = loadYaml<{ spec: { groups: unknown[] } }>(
      readFileSync(new URL('../../knative/prometheus-rules.yaml', import.meta.url), 'utf8'),
    );
    const file = join(mkdtempSync(join(tmpdir(), 'kar-rules-')), 'rules.json');
    writeFileSync(file, JSON.stringify({ groups: rule.spec.groups }));
    const checked = promtool(['check', 'rules', file]);
    expect(checked.output).toContain('SUCCESS: 4 rules found');
    expect(checked.status).toBe(0);
  });
});

describe('the Grafana dashboard', () => {
  it('queries only metrics the function exports, and each query parses', async () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../../knative/grafana-dashboard.json', import.meta.url), 'utf8'),
    ) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exported = await (await h.app.request('/metrics')).text();
    const names = new Set(
      [...exported.matchAll(/^# TYPE (\S+) (\S+)/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name as string],
      ),
    );
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    expect(exprs.length).toBeGreaterThanOrEqual(6);
    for (const expr of exprs) {
      const used = [...expr.matchAll(/\b([a-z_]+(?:_total|_seconds_bucket|_active|_remaining))\b/g)].map(
        (m) => m[1],
      );
      expect(used.length).toBeGreaterThan(0);
      for (const name of used) expect(names, `${name} in ${expr}`).toContain(name);
    }
  });
});
