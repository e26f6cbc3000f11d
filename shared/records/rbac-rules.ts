/** One rule of a Kubernetes Role: verbs on one resource of one API group. */
export interface RbacRule {
  /** `''` for the core group. */
  readonly apiGroup: string;
  readonly resource: string;
  readonly verbs: readonly string[];
}

/**
 * What the record store does in the runners' namespace, and so what the function's Role must grant: no more.
 * `knative/rbac.yaml` grants exactly these (`test/rbac-rules.test.ts` keeps the two equal), and `doctor` asks the
 * API server whether the configured credentials hold each verb.
 */
export const RECORD_STORE_RULES: readonly RbacRule[] = [
  // create: the suspended record; get: a record a repeated delivery meets; patch: claim and resume;
  // delete: remove runners that will never run; list: count active runners, find records (reconcile).
  { apiGroup: 'batch', resource: 'jobs', verbs: ['create', 'get', 'patch', 'delete', 'list'] },
  // Runner slots and the marks of resets under way; get and patch: a GitHub credential's pause (kar-pause-<hash>).
  {
    apiGroup: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['create', 'delete', 'list', 'get', 'patch'],
  },
  // The JIT Secret; never read back.
  { apiGroup: '', resource: 'secrets', verbs: ['create'] },
];
