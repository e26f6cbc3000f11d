/**
 * How to reach one Kubernetes API server: where it is, how to trust it, and how to authenticate. Built by
 * `loadKubeConnection` from a kubeconfig or the pod's service account; used by `createKubeApi`.
 */
export interface KubeConnection {
  /** The API server's base URL, e.g. `https://10.96.0.1:443`. */
  readonly server: URL;
  readonly tls: KubeTls;
  /**
   * The `Authorization` header for the next request, or `undefined` for none (client certificates). `fresh`
   * asks for a credential read or fetched again now (after a 401), not the cached one.
   */
  readonly authorization: (options?: { readonly fresh?: boolean }) => Promise<string | undefined>;
  /** Where the connection came from, for the start-up log: a kubeconfig path or `in-cluster`. */
  readonly source: string;
  /**
   * The cluster's `proxy-url` from the kubeconfig: every call goes through it, whatever HTTPS_PROXY and NO_PROXY
   * say (client-go's rule). Unset: the environment's proxy settings apply.
   */
  readonly proxy?: URL;
  /** The current context's namespace, when the kubeconfig sets one. */
  readonly namespace?: string;
}

export interface KubeTls {
  /** PEM of the certificate authorities to trust instead of the system's. */
  readonly ca?: Buffer;
  /** PEM of the client certificate and its key. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Server name to verify instead of the URL's host (kubeconfig `tls-server-name`). */
  readonly servername?: string;
  /** False only for `insecure-skip-tls-verify: true`. */
  readonly rejectUnauthorized: boolean;
}

/** A configuration the function cannot use; thrown at start, never per delivery. */
export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}
