/**
 * Makes a Kubernetes label value from free text: at most 63 characters of `[A-Za-z0-9._-]`, starting and
 * ending with an alphanumeric, or empty. Owner and repository names are mostly valid already; anything else is
 * replaced by `_`. The exact names also go into annotations, which have no such limit.
 * https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
 */
export function toLabelValue(text: string): string {
  return text
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
}
