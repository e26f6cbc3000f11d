/**
 * `npm run demo`: the real function process, a signed real `queued` delivery, and what it created, with no
 * cluster and no GitHub account. GitHub and the Kubernetes API are the loopback stand-ins the tests use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump as dumpYaml } from 'js-yaml';
import { startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { startServerProcess } from '../stand-ins/server-process.js';
import { buildBundle } from './build.js';

const WEBHOOK_SECRET = 'demo-webhook-secret';
const GITHUB_TOKEN = 'github_pat_demo';
const say = (text: string) => process.stdout.write(`${text}\n`);

const started = performance.now();
say('1. building the function bundle (what npm start runs)');
await buildBundle();

const github = await startGitHubStandIn({ token: GITHUB_TOKEN });
const kubernetes = await startKubernetesStandIn();
const dir = mkdtempSync(join(tmpdir(), 'kube-actions-runner-demo-'));
say(`2. GitHub API stand-in at ${github.url}, Kubernetes API stand-in at ${kubernetes.url}`);

const server = await startServerProcess({
  WEBHOOK_SECRET,
  GITHUB_TOKEN,
  GITHUB_API_URL: github.url,
  KUBECONFIG: kubernetes.writeKubeconfig(dir),
  NAMESPACE: 'github-runners',
  RUNNER_MODE: process.env.RUNNER_MODE ?? 'dind-rootless',
});
say(`3. function started at ${server.url} (mode ${process.env.RUNNER_MODE ?? 'dind-rootless'})`);

try {
  const payload = queuedPayload();
  github.addJob(payload.repository.full_name, payload.workflow_job);
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  say(
    `4. delivering GitHub's example workflow_job "queued" payload for ${payload.repository.full_name}, job ${payload.workflow_job.id}, labels [${payload.workflow_job.labels.join(', ')}], signed with X-Hub-Signature-256`,
  );
  const response = await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
  say(`   -> HTTP ${response.status} ${await response.text()}`);

  const forged = await fetch(`${server.url}/webhook`, {
    method: 'POST',
    headers: { ...headers, 'x-hub-signature-256': 'sha256=0000' },
    body,
  });
  say(`5. the same body with a forged signature -> HTTP ${forged.status} ${await forged.text()}`);

  say('6. GitHub calls the function made:');
  for (const call of github.calls) say(`   ${call.method} ${call.path} -> ${call.status}`);

  const [job] = kubernetes.jobs.values();
  const [secret] = kubernetes.secrets.values();
  if (job === undefined || secret === undefined) throw new Error('the function created no Job or Secret');
  say('\n7. the runner Job in the Kubernetes API:\n');
  say(dumpYaml(job));
  say('8. its JIT Secret (value redacted; deleted with the Job through its ownerReference):\n');
  say(
    dumpYaml({
      ...secret,
      data: Object.fromEntries(Object.keys(secret.data ?? {}).map((key) => [key, '<redacted>'])),
    }),
  );
  say('9. the function logged (JSON, one line per event):');
  for (const line of server.logs()) say(`   ${JSON.stringify(line)}`);
  say(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (response.status !== 200) process.exitCode = 1;
} finally {
  await server.stop();
  await github.close();
  await kubernetes.close();
  rmSync(dir, { recursive: true, force: true });
}
