import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHubStandIn } from '../test/stand-ins/github-stand-in.js';
import { startKubernetesStandIn } from '../test/stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../test/support/payloads.js';

const github = await startGitHubStandIn({ token: 't', checkContract: false });
const kubernetes = await startKubernetesStandIn();
const kubeconfig = kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'p-')));
const payload = queuedPayload({ jobId: 42 });
github.addJob(payload.repository.full_name, payload.workflow_job);
const d = await signedDelivery(payload, "s");
const args = process.argv.slice(2);
const started = performance.now();
const child = spawn(process.execPath, [...args, 'dist/start.cjs'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '18111', HOST: '127.0.0.1', WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', GITHUB_API_URL: github.url, KUBECONFIG: kubeconfig, RUNNER_MODE: 'standard', LOG_LEVEL: 'silent' }, stdio: 'inherit' });
let health = 0;
for (;;) {
  try { const r = await fetch('http://127.0.0.1:18111/health'); if (r.ok) { health = performance.now() - started; break; } } catch {}
  await new Promise((r) => setTimeout(r, 1));
}
const t0 = performance.now();
const r = await fetch('http://127.0.0.1:18111/webhook', { method: 'POST', headers: d.headers, body: d.body });
console.log(r.status, await r.text(), 'health', health.toFixed(0), 'webhook after health', (performance.now() - t0).toFixed(0), 'total', (performance.now() - started).toFixed(0));
child.kill('SIGINT');
await new Promise((r) => child.once('exit', r));
await github.close(); await kubernetes.close();
