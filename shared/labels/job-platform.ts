/**
 * The machine a job asks for, read from GitHub's default self-hosted runner labels: `linux`, `windows` or `macOS`
 * for the operating system and `x64`, `ARM` or `ARM64` for the architecture, compared case-insensitively as GitHub
 * compares labels (https://docs.github.com/en/actions/how-tos/manage-runners/self-hosted-runners/use-in-a-workflow).
 * Expressed as the values of the well-known node labels `kubernetes.io/os` and `kubernetes.io/arch`, which the
 * kubelet sets from Go's GOOS and GOARCH.
 */

/** The node label of a node's operating system (Go's GOOS: `linux`, `windows`, ...). */
export const NODE_OS_LABEL = 'kubernetes.io/os';
/** The node label of a node's architecture (Go's GOARCH: `amd64`, `arm64`, `arm`, ...). */
export const NODE_ARCH_LABEL = 'kubernetes.io/arch';

/** GitHub's OS labels (lower-cased) and the `kubernetes.io/os` of a node that runs such a job. */
const OS_OF_LABEL: Readonly<Record<string, string>> = { linux: 'linux', windows: 'windows', macos: 'darwin' };
/** GitHub's architecture labels (lower-cased) and the `kubernetes.io/arch` of a node that runs such a job. */
const ARCH_OF_LABEL: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm' };

/** The OS and architecture a job asks for, as node label values; a field is unset when the job does not say. */
export interface JobPlatform {
  readonly os?: string;
  readonly arch?: string;
}

/** A job's platform, or why it has none (it names two operating systems, or two architectures). */
export type PlatformOf = { readonly platform: JobPlatform } | { readonly problem: string };

/** Reads the platform a job's labels ask for. Other labels are ignored. Pure. */
export function jobPlatform(labels: readonly string[]): PlatformOf {
  const os = new Set<string>();
  const arch = new Set<string>();
  for (const label of labels) {
    const name = label.toLowerCase();
    const osValue = OS_OF_LABEL[name];
    const archValue = ARCH_OF_LABEL[name];
    if (osValue !== undefined) os.add(osValue);
    if (archValue !== undefined) arch.add(archValue);
  }
  // No runner pod runs on two kinds of machine at once: such a job can only wait until GitHub gives up on it.
  if (os.size > 1) return { problem: `job asks for more than one operating system (${[...os].join(', ')})` };
  if (arch.size > 1) return { problem: `job asks for more than one architecture (${[...arch].join(', ')})` };
  const [osValue] = os;
  const [archValue] = arch;
  return {
    platform: {
      ...(osValue === undefined ? {} : { os: osValue }),
      ...(archValue === undefined ? {} : { arch: archValue }),
    },
  };
}

/** The platform as node labels (`kubernetes.io/os`, `kubernetes.io/arch`), only those the platform sets. */
export function platformNodeLabels(platform: JobPlatform): Record<string, string> {
  return {
    ...(platform.os === undefined ? {} : { [NODE_OS_LABEL]: platform.os }),
    ...(platform.arch === undefined ? {} : { [NODE_ARCH_LABEL]: platform.arch }),
  };
}

/** `kubernetes.io/os=linux, kubernetes.io/arch=arm64`: a platform for messages. */
export function describePlatform(platform: JobPlatform): string {
  return Object.entries(platformNodeLabels(platform))
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}
