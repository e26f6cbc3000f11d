/**
 * The bench's stand-ins of GitHub and the Kubernetes API, in a process of their own so that they do not share
 * an event loop with the load generator. Driven over IPC by `bench/run.ts`: it announces its URLs, then answers
 * `addJobs` (queued jobs GitHub should know), `jobCount` (Jobs created so far) and `callCount` (requests
 * served so far).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';

export interface StandInsReady {
  readonly githubUrl: string;
  readonly kubernetesUrl: string;
  readonly kubeconfig: string;
}
export type StandInsCommand =
  | {
      readonly id: number;
      readonly op: 'addJobs';
      readonly jobs: { repository: string; job: Record<string, unknown> }[];
    }
  | { readonly id: number; readonly op: 'jobCount' }
  /** Requests served so far, GitHub's and the API server's together. */
  | { readonly id: number; readonly op: 'callCount' };

const token = process.env.BENCH_GITHUB_TOKEN ?? '';
const github = await startGitHubStandIn({ token, checkContract: false });
const kubernetes = await startKubernetesStandIn();
const ready: StandInsReady = {
  githubUrl: github.url,
  kubernetesUrl: kubernetes.url,
  kubeconfig: kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'kar-bench-'))),
};
process.send?.({ ready });
process.on('message', (command: StandInsCommand) => {
  if (command.op === 'addJobs') {
    for (const { repository, job } of command.jobs) github.addJob(repository, job);
    process.send?.({ id: command.id, result: command.jobs.length });
  } else if (command.op === 'jobCount') {
    process.send?.({ id: command.id, result: kubernetes.jobs.size });
  } else {
    let calls = github.calls.length;
    for (const count of kubernetes.requestCounts.values()) calls += count;
    process.send?.({ id: command.id, result: calls });
  }
});
process.on('disconnect', () => {
  void Promise.all([github.close(), kubernetes.close()]).finally(() => process.exit(0));
});
