import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/load-config.js';
import { POD_NAMESPACE_FILE, withPodNamespace } from '../shared/config/pod-namespace.js';

const minimal = { WEBHOOK_SECRET: 'hook-secret', GITHUB_TOKEN: 'github_pat_123' };

/** A reader over a fake file system of one pod. */
function podFiles(files: Record<string, string>) {
  const read: string[] = [];
  const reader = (path: string) => {
    read.push(path);
    const text = files[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
  return { reader, read };
}

describe('withPodNamespace', () => {
  it("reads the service account's namespace file, as client-go does in a pod", () => {
    expect(POD_NAMESPACE_FILE).toBe('/var/run/secrets/kubernetes.io/serviceaccount/namespace');
    const { reader } = podFiles({ [POD_NAMESPACE_FILE]: 'github-runners' });
    expect(loadConfig(withPodNamespace(minimal, reader)).namespace).toBe('github-runners');
  });

  it('lets NAMESPACE set in the environment win, without reading the file', () => {
    const { reader, read } = podFiles({ [POD_NAMESPACE_FILE]: 'github-runners' });
    expect(withPodNamespace({ ...minimal, NAMESPACE: 'elsewhere' }, reader).NAMESPACE).toBe('elsewhere');
    expect(read).toEqual([]);
  });

  it('treats an empty NAMESPACE as unset', () => {
    const { reader } = podFiles({ [POD_NAMESPACE_FILE]: 'github-runners\n' });
    expect(withPodNamespace({ ...minimal, NAMESPACE: ' ' }, reader).NAMESPACE).toBe('github-runners');
  });

  it('outside a pod (no file), leaves the default to loadConfig', () => {
    const { reader } = podFiles({});
    expect(loadConfig(withPodNamespace(minimal, reader)).namespace).toBe('default');
  });

  it('passes what the file says through loadConfig validation', () => {
    const { reader } = podFiles({ [POD_NAMESPACE_FILE]: 'Not_A_Namespace' });
    expect(() => loadConfig(withPodNamespace(minimal, reader))).toThrow(
      'NAMESPACE must be a valid Kubernetes namespace name, got "Not_A_Namespace"',
    );
  });
});
