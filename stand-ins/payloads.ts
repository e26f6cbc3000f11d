import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';

type Example = Record<string, unknown> & {
  action?: string;
  workflow_job?: Record<string, unknown> & { id: number; labels: string[] };
  repository?: { name: string; full_name: string; owner: { login: string } };
};

const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as {
  name: string;
  examples: Example[];
}[];

/** The real payloads GitHub documents for an event, from `@octokit/webhooks-examples`. */
export function examplesOf(event: string): Example[] {
  const found = examples.find((entry) => entry.name === event);
  if (!found) throw new Error(`no examples for ${event}`);
  return found.examples;
}

/** The real `queued` payload of a job meant for self-hosted runners (`[self-hosted, k8s]`). */
export function queuedPayload(
  overrides: {
    jobId?: number;
    labels?: string[];
    owner?: string;
    repo?: string;
    installationId?: number;
    isPublic?: boolean;
  } = {},
) {
  const base = examplesOf('workflow_job').find(
    (example) => example.action === 'queued' && example.workflow_job?.labels.includes('self-hosted'),
  );
  if (!base) throw new Error('no self-hosted queued example in @octokit/webhooks-examples');
  const payload = structuredClone(base) as Required<Example>;
  if (overrides.jobId !== undefined) payload.workflow_job.id = overrides.jobId;
  if (overrides.labels !== undefined) payload.workflow_job.labels = overrides.labels;
  if (overrides.owner !== undefined) {
    payload.repository.owner.login = overrides.owner;
    payload.repository.full_name = `${overrides.owner}/${payload.repository.name}`;
  }
  if (overrides.repo !== undefined) {
    payload.repository.name = overrides.repo;
    payload.repository.full_name = `${payload.repository.owner.login}/${overrides.repo}`;
  }
  if (overrides.installationId !== undefined) {
    (payload as Record<string, unknown>).installation = {
      id: overrides.installationId,
      node_id: 'MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u',
    };
  }
  if (overrides.isPublic !== undefined) {
    Object.assign(payload.repository, {
      private: !overrides.isPublic,
      visibility: overrides.isPublic ? 'public' : 'private',
    });
  }
  return payload;
}

/**
 * The `completed` delivery GitHub sends for a queued payload's job: cancelled before any runner took it (the
 * default), or finished on the named runner (a success unless it says otherwise).
 */
export function completedPayload(
  queued: ReturnType<typeof queuedPayload>,
  ranOn?: {
    runnerId: number;
    runnerName: string;
    conclusion?: 'success' | 'failure';
    /** GitHub's times (ISO 8601): the job's start, as its `in_progress` said, and its end (default now). */
    startedAt?: string;
    completedAt?: string;
  },
) {
  return {
    ...queued,
    action: 'completed',
    workflow_job: {
      ...queued.workflow_job,
      status: 'completed',
      conclusion: ranOn ? (ranOn.conclusion ?? 'success') : 'cancelled',
      started_at: ranOn?.startedAt ?? queued.workflow_job.started_at,
      completed_at: ranOn?.completedAt ?? new Date().toISOString(),
      runner_id: ranOn?.runnerId ?? null,
      runner_name: ranOn?.runnerName ?? null,
    },
  };
}

/** The `in_progress` delivery GitHub sends when a runner takes a queued payload's job. */
export function inProgressPayload(
  queued: ReturnType<typeof queuedPayload>,
  ranOn: {
    readonly id: number;
    readonly name: string;
    /** When GitHub says the runner started the job (ISO 8601; default now). */
    readonly startedAt?: string;
  },
) {
  return {
    ...queued,
    action: 'in_progress',
    workflow_job: {
      ...queued.workflow_job,
      status: 'in_progress',
      started_at: ranOn.startedAt ?? new Date().toISOString(),
      runner_id: ranOn.id,
      runner_name: ranOn.name,
    },
  };
}

let deliveries = 0;

/** Headers and body of a delivery as GitHub sends it, signed with the real `sign()`. */
export async function signedDelivery(
  payload: unknown,
  secret: string,
  event = 'workflow_job',
): Promise<{ headers: Record<string, string>; body: string }> {
  const body = JSON.stringify(payload);
  deliveries += 1;
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': event,
      'x-github-delivery': `72d3162e-cc78-11e3-81ab-4c9367dc${String(deliveries).padStart(4, '0')}`,
      'x-github-hook-id': '292430182',
      'x-hub-signature-256': await sign(secret, body),
    },
  };
}
