import { toLabelValue } from '../modes/label-value.js';
import { LABEL_PREFIX, RECORD_ANNOTATIONS, type RecordFields } from './record-schema.js';

/** What cost tools read off a runner pod: labels to aggregate by, and the full text in annotations. */
export interface CostAttribution {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

/**
 * The labels and annotations that attribute a runner pod's cost to its workflow run (OpenCost and Kubecost
 * aggregate by pod label): the workflow, the job's name, the run and its attempt, beside the owner, repository,
 * job id and profile that every runner pod carries. Label values are sanitized and cut to 63 characters
 * (`toLabelValue`); the exact names go into annotations. Only what GitHub's answer for the job confirmed: a record
 * made from the payload alone (`unconfirmed`) gets none, so a forged payload cannot bill its runs to another.
 */
export function costAttribution(fields: RecordFields): CostAttribution {
  if (fields.unconfirmed === true) return { labels: {}, annotations: {} };
  const labels: Record<string, string> = {
    [`${LABEL_PREFIX}/run-id`]: String(fields.runId),
    [`${LABEL_PREFIX}/run-attempt`]: String(fields.runAttempt),
  };
  const annotations: Record<string, string> = {
    [RECORD_ANNOTATIONS.repository]: `${fields.owner}/${fields.repo}`,
    [RECORD_ANNOTATIONS.runId]: String(fields.runId),
    [RECORD_ANNOTATIONS.runAttempt]: String(fields.runAttempt),
  };
  if (fields.workflow !== undefined) {
    labels[`${LABEL_PREFIX}/workflow`] = toLabelValue(fields.workflow);
    annotations[RECORD_ANNOTATIONS.workflow] = fields.workflow;
  }
  if (fields.jobName !== undefined) {
    labels[`${LABEL_PREFIX}/job-name`] = toLabelValue(fields.jobName);
    annotations[RECORD_ANNOTATIONS.jobName] = fields.jobName;
  }
  return { labels, annotations };
}
