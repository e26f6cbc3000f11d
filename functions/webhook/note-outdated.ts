import type { Logger } from '../../shared/log/create-logger.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';

/** What an operator does about a refused runner version; the log line and the record both say it. */
const FIX =
  "pin a newer runner image (the profile's image, or RUNNER_IMAGE), or unset it to run the default, which follows GitHub's runner releases";

/**
 * A runner GitHub refused for its version ("Runner version vX is deprecated and cannot receive messages", exit 7):
 * writes why on its record, counts it (`runner_outdated_total{profile}`) and says what to do, once a runner (the
 * annotation marks it done). It is not replaced: a runner of the same image would be refused too. Its job stays
 * queued at GitHub until a runner GitHub accepts takes it.
 */
export async function noteOutdated(
  deps: HandlerDeps,
  record: RunnerRecord,
  log: Logger,
  deadline: Deadline,
): Promise<void> {
  const image = record.runnerImage ?? 'unknown';
  const profile = record.profile ?? 'unknown';
  await deps.records.noteOutdated(
    record.name,
    `GitHub refused the runner of ${image} for its version (exit code 7): ${FIX}`,
    deadline,
  );
  deps.metrics.runnerOutdated.inc({ profile });
  log.error(
    { job: record.name, profile, image, fix: FIX },
    "GitHub refused this runner's version (exit code 7); it is not replaced: pin a newer runner image or follow GitHub's releases",
  );
}
