/** Which repositories this deployment serves, whatever signs the delivery. */
export interface RepositoryPolicy {
  /** Glob patterns of owners (`*` any run of characters); empty: any owner. */
  readonly allowedOwners: readonly string[];
  /** Glob patterns of `owner/repo`; empty: any repository. */
  readonly allowedRepositories: readonly string[];
  /** GitHub advises against self-hosted runners for public repositories: a fork's pull request can run on them. */
  readonly publicRepositories: 'allow' | 'deny';
}

/** A glob (`*` = any run of characters, `?` = one) as a case-insensitive, whole-string RegExp. */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

/** Why a repository is refused, or `undefined` when it is served. */
export function refusalReason(
  policy: RepositoryPolicy,
  repository: { owner: string; repo: string; isPublic: boolean },
): string | undefined {
  const { owner, repo } = repository;
  if (policy.allowedOwners.length > 0 && !policy.allowedOwners.some((p) => globToRegExp(p).test(owner))) {
    return `owner ${owner} is not in ALLOWED_OWNERS`;
  }
  const fullName = `${owner}/${repo}`;
  if (
    policy.allowedRepositories.length > 0 &&
    !policy.allowedRepositories.some((p) => globToRegExp(p).test(fullName))
  ) {
    return `repository ${fullName} is not in ALLOWED_REPOSITORIES`;
  }
  if (repository.isPublic && policy.publicRepositories === 'deny') {
    return `repository ${fullName} is public and PUBLIC_REPOSITORIES=deny`;
  }
  return undefined;
}
