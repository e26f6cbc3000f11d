import type { RecordFields } from '../records/record-schema.js';

/**
 * The workflow job doctor builds sample records for: what `render` shows, never sent to GitHub. Its Job is named
 * like a real one (`runner-<job id>`), so the admission policy judges it as it would a real record.
 */
export function sampleRecordFields(jobLabels: readonly string[]): RecordFields {
  return {
    owner: 'OWNER',
    repo: 'REPOSITORY',
    jobId: 1234567890,
    runId: 987654321,
    runAttempt: 1,
    deliveryId: 'DELIVERY-GUID',
    hookId: undefined,
    installationId: undefined,
    jobLabels,
    // As GitHub names them (the cost attribution labels show them sanitized, the annotations in full).
    workflow: 'CI / WORKFLOW',
    jobName: 'build (JOB)',
  };
}

/** Labels a job would carry to be served by the profile: `self-hosted` and its first alternative. */
export function sampleLabels(profile: { readonly matchers: readonly (readonly string[])[] }): string[] {
  return ['self-hosted', ...(profile.matchers[0] ?? [])];
}
