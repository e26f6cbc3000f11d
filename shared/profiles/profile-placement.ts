import type { V1Affinity, V1NodeSelectorTerm } from '@kubernetes/client-node';
import {
  describePlatform,
  type JobPlatform,
  jobPlatform,
  NODE_ARCH_LABEL,
  NODE_OS_LABEL,
  platformNodeLabels,
} from '../labels/job-platform.js';
import type { LabelMatcher } from '../labels/label-matchers.js';

/** What of a runner profile places its pods (a `RunnerProfile` is one; named apart to keep imports one-way). */
export interface ProfilePlacement {
  readonly name: string;
  readonly matchers: readonly LabelMatcher[];
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly affinity?: V1Affinity;
}

/**
 * What the default images run on: GitHub's runner image is published for linux/amd64 and linux/arm64
 * (actions/runner `.github/workflows/docker-publish.yml`), Docker's `dind` for those and 32-bit arm, its
 * `dind-rootless` for amd64 and arm64 only (docker-library/docker `versions.json`: rootless extras exist for
 * those). Anything else is served only by a profile that places its pods there itself (and brings its image).
 */
export const IMAGE_OS = 'linux';
export const IMAGE_ARCHITECTURES: readonly string[] = ['amd64', 'arm64'];

/** Names people write for a node label value that nodes never carry (GitHub's, or uname's), and Go's name. */
const MISNAMED: Readonly<Record<string, string>> = {
  x64: 'amd64',
  x86_64: 'amd64',
  aarch64: 'arm64',
  macos: 'darwin',
};

/**
 * The node selector of a job's runner pod under a profile: `kubernetes.io/os: linux` unless the profile names
 * another OS, the profile's own nodeSelector, and the OS and architecture the job's labels ask for. The profile's
 * affinity stays as it is beside it (Kubernetes requires both). Only fixed values reach the pod, never a label's
 * text. When the two disagree (only for a record whose profile was removed from the configuration since), the
 * job's ask wins: a runner on the wrong machine would fail every native binary.
 */
export function runnerNodeSelector(profile: ProfilePlacement, platform: JobPlatform): Record<string, string> {
  return { [NODE_OS_LABEL]: IMAGE_OS, ...profile.nodeSelector, ...platformNodeLabels(platform) };
}

/**
 * Why this profile cannot place a runner for a job with this platform, or undefined when it can: its nodeSelector
 * pins another OS or architecture, the platform is one the default images do not run and the profile does not
 * name it in its nodeSelector, or its required node affinity admits no node of that platform.
 */
export function placementConflict(profile: ProfilePlacement, platform: JobPlatform): string | undefined {
  const pinned = profile.nodeSelector ?? {};
  for (const [key, wanted] of Object.entries(platformNodeLabels(platform))) {
    const pin = pinned[key];
    if (pin !== undefined && pin !== wanted)
      return `profile ${profile.name} pins ${key}=${pin}, the job asks for ${wanted}`;
  }
  if (platform.os !== undefined && platform.os !== IMAGE_OS && pinned[NODE_OS_LABEL] !== platform.os) {
    return `job asks for ${NODE_OS_LABEL}=${platform.os}, which the runner images do not run: only a profile with nodeSelector ${NODE_OS_LABEL}: ${platform.os} (and an image for it) serves it`;
  }
  if (
    platform.arch !== undefined &&
    !IMAGE_ARCHITECTURES.includes(platform.arch) &&
    pinned[NODE_ARCH_LABEL] !== platform.arch
  ) {
    return `job asks for ${NODE_ARCH_LABEL}=${platform.arch}, which the runner images are not built for (${IMAGE_ARCHITECTURES.join(', ')}): only a profile with nodeSelector ${NODE_ARCH_LABEL}: ${platform.arch} (and an image for it) serves it`;
  }
  const selector = runnerNodeSelector(profile, platform);
  const wanted = {
    os: selector[NODE_OS_LABEL] ?? IMAGE_OS,
    ...(selector[NODE_ARCH_LABEL] === undefined ? {} : { arch: selector[NODE_ARCH_LABEL] }),
  };
  const terms =
    profile.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms !== undefined && terms.length > 0 && !terms.some((term) => admits(term, wanted))) {
    return `profile ${profile.name}'s required node affinity admits no node with ${describePlatform(wanted)}`;
  }
  return undefined;
}

/**
 * Problems of a profile's placement that the configuration can show at start: a nodeSelector value no node
 * carries under that name (`x64` for `amd64`), a nodeSelector its own affinity excludes, and a `match`
 * alternative whose jobs it could never place (`match: arm64` with `kubernetes.io/arch: amd64`). A job that only
 * *may* conflict (`match: linux` on an amd64 profile, and an arm64 job) is not an error: that profile does not
 * match it, and the next one may.
 */
export function placementProblems(profile: ProfilePlacement): string[] {
  const problems: string[] = [];
  for (const key of [NODE_OS_LABEL, NODE_ARCH_LABEL]) {
    const value = profile.nodeSelector?.[key];
    const meant = value === undefined ? undefined : MISNAMED[value.toLowerCase()];
    if (meant !== undefined)
      problems.push(`nodeSelector ${key}: ${value} is on no node: nodes carry Go's name, ${meant}`);
  }
  const own = placementConflict(profile, {});
  if (own !== undefined) return [...problems, own];
  for (const alternative of profile.matchers) {
    const of = jobPlatform(alternative);
    const conflict = 'problem' in of ? of.problem : placementConflict(profile, of.platform);
    if (conflict !== undefined)
      problems.push(`match "${alternative.join('+')}" can never be served: ${conflict}`);
  }
  return problems;
}

/**
 * True when a node selector term may admit a node with these OS and architecture values: none of its
 * `matchExpressions` on those keys rules them out. Other keys, `matchFields` and numeric operators are not judged
 * here (the scheduler does), so this never calls a possible placement impossible.
 * https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity
 */
function admits(term: V1NodeSelectorTerm, wanted: { os?: string; arch?: string }): boolean {
  const values: Record<string, string | undefined> = {
    [NODE_OS_LABEL]: wanted.os,
    [NODE_ARCH_LABEL]: wanted.arch,
  };
  return (term.matchExpressions ?? []).every((expression) => {
    if (!(expression.key in values)) return true;
    const value = values[expression.key];
    // The job does not say (no architecture label): any node's value may do, unless the key must be absent.
    if (value === undefined) return expression.operator !== 'DoesNotExist';
    switch (expression.operator) {
      case 'In':
        return (expression.values ?? []).includes(value);
      case 'NotIn':
        return !(expression.values ?? []).includes(value);
      case 'DoesNotExist':
        return false;
      default:
        return true;
    }
  });
}
