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
const child = spawn(process.execPath, [...(process.env.FN_ARGS ? process.env.FN_ARGS.split(' ') : []), 'dist/start.cjs'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '18112', HOST: '127.0.0.1', WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', GITHUB_API_URL: github.url, KUBECONFIG: kubeconfig, RUNNER_MODE: 'standard', LOG_LEVEL: 'silent', NODE_DEBUG: process.env.FN_DEBUG ?? '' }, stdio: 'inherit' });
for (;;) { try { if ((await fetch('http://127.0.0.1:18112/health')).ok) break; } catch {} await new Promise((r) => setTimeout(r, 5)); }
let id = 1;
const ds = await Promise.all(Array.from({ length: 2000 }, async () => { const p = queuedPayload({ jobId: id++ }); github.addJob(p.repository.full_name, p.workflow_job); return signedDelivery(p, 's'); }));
let next = 0; const t0 = performance.now();
await Promise.all(Array.from({ length: 10 }, async () => { while (next < ds.length) { const d = ds[next++]; const r = await fetch('http://127.0.0.1:18112/webhook', { method: 'POST', headers: d.headers, body: d.body }); await r.arrayBuffer(); } }));
console.log('per s', (2000 / ((performance.now() - t0) / 1000)).toFixed(0));
child.kill('SIGINT'); await new Promise((r) => child.once('exit', r)); await github.close(); await kubernetes.close();
