/**
 * Runs the built function once, against the loopback stand-ins, through a signed `queued` delivery, a health
 * check and a metrics scrape, then stops it: its loader writes the V8 code cache of everything that compiled,
 * the webhook path included. A cold start then skips parsing and compiling that code.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { startServerProcess } from '../stand-ins/server-process.js';
import { BUNDLE, NODE_FLAGS } from './dist-paths.js';

export async function warmCodeCache(): Promise<number> {
  const github = await startGitHubStandIn({ token: 'warm', checkContract: false });
  const kubernetes = await startKubernetesStandIn();
  const dir = mkdtempSync(join(tmpdir(), 'kar-warm-'));
  try {
    const server = await startServerProcess({
      KAR_WRITE_CODE_CACHE: '1',
      // With the entry's V8 flags: Node.js 20 rejects a code cache written under other flags (Node.js 24 does not).
      NODE_OPTIONS: NODE_FLAGS.join(' '),
      WEBHOOK_SECRET: 'warm',
      GITHUB_TOKEN: 'warm',
      GITHUB_API_URL: github.url,
      KUBECONFIG: kubernetes.writeKubeconfig(dir),
      // Quiet, but not silent: the function's listening line says its port (functions/webhook/main.ts).
      LOG_LEVEL: 'error',
    });
    const payload = queuedPayload({ jobId: 1 });
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const { headers, body } = await signedDelivery(payload, 'warm');
    const response = await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
    if (response.status !== 200) throw new Error(`warm-up delivery answered ${response.status}`);
    await (await fetch(`${server.url}/metrics`)).text();
    if ((await server.stop()) !== 0) throw new Error('the warm-up run did not exit cleanly');
    return statSync(`${BUNDLE}.cache`).size;
  } finally {
    await github.close();
    await kubernetes.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
