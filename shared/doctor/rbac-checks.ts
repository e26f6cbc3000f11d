import { type RbacRule, RECORD_STORE_RULES } from '../records/rbac-rules.js';
import { type Check, fail, notRun, pass, warn } from './check.js';
import { API_FAILED, type KubeDoctorContext, requestWith } from './kube-doctor-context.js';

interface AccessReview {
  readonly status?: { readonly allowed?: boolean; readonly reason?: string };
}
interface RulesReview {
  readonly status?: {
    readonly resourceRules?: readonly {
      readonly verbs: readonly string[];
      readonly apiGroups?: readonly string[];
      readonly resources?: readonly string[];
    }[];
    readonly incomplete?: boolean;
  };
}

/** What every authenticated user may do (system:basic-user and friends): not more than the function needs. */
const SELF_REVIEWS = new Set([
  'authorization.k8s.io/selfsubjectaccessreviews',
  'authorization.k8s.io/selfsubjectrulesreviews',
  'authentication.k8s.io/selfsubjectreviews',
]);

const resourceName = (rule: Pick<RbacRule, 'apiGroup' | 'resource'>) =>
  rule.apiGroup === '' ? rule.resource : `${rule.resource}.${rule.apiGroup}`;

/**
 * The function's permissions in the runners' namespace, judged by the API server's own authorizer: one
 * SelfSubjectAccessReview per verb of `RECORD_STORE_RULES` (the table knative/rbac.yaml is kept equal to), and a
 * SelfSubjectRulesReview for anything granted beyond it.
 */
export function rbacChecks(context: KubeDoctorContext): Check[] {
  const namespace = () => context.config?.namespace ?? 'default';
  const needed: Check[] = RECORD_STORE_RULES.map((rule) => ({
    group: 'kubernetes',
    check: `may ${rule.verbs.join(', ')} ${resourceName(rule)}`,
    async run(signal) {
      const api = context.asFunction;
      if (context.config === undefined) return notRun('the configuration is invalid');
      if (api === undefined) return notRun(API_FAILED);
      const refused: string[] = [];
      for (const verb of rule.verbs) {
        const review = await requestWith<AccessReview>(
          api,
          {
            method: 'POST',
            path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
            body: {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: {
                resourceAttributes: {
                  namespace: namespace(),
                  verb,
                  group: rule.apiGroup,
                  resource: rule.resource,
                },
              },
            },
          },
          signal,
        );
        if (review.status?.allowed !== true) refused.push(verb);
      }
      if (refused.length === 0) return pass(`allowed in ${namespace()}`);
      return fail(
        `not allowed in ${namespace()}: ${refused.join(', ')} ${resourceName(rule)}`,
        `kubectl apply -f knative/rbac.yaml: its Role grants ${rule.verbs.join(', ')} on ${resourceName(rule)} in the runners' namespace (set to NAMESPACE)`,
      );
    },
  }));
  const extra: Check = {
    group: 'kubernetes',
    check: 'no more permissions than needed',
    async run(signal) {
      const api = context.asFunction;
      if (context.config === undefined) return notRun('the configuration is invalid');
      if (api === undefined) return notRun(API_FAILED);
      const review = await requestWith<RulesReview>(
        api,
        {
          method: 'POST',
          path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectRulesReview',
            spec: { namespace: namespace() },
          },
        },
        signal,
      );
      const extras = new Set<string>();
      for (const rule of review.status?.resourceRules ?? []) {
        for (const group of rule.apiGroups ?? ['']) {
          for (const resource of rule.resources ?? []) {
            if (SELF_REVIEWS.has(`${group}/${resource}`)) continue;
            const allowed = RECORD_STORE_RULES.find(
              (known) => known.apiGroup === group && known.resource === resource,
            );
            for (const verb of rule.verbs) {
              if (allowed === undefined || !allowed.verbs.includes(verb)) {
                extras.add(`${verb} ${resourceName({ apiGroup: group, resource })}`);
              }
            }
          }
        }
      }
      if (extras.size === 0) {
        return review.status?.incomplete
          ? warn('the API server could not list every rule (an authorizer other than RBAC)')
          : pass(`only what knative/rbac.yaml grants, in ${namespace()}`);
      }
      const listed = [...extras];
      return warn(
        `also allowed in ${namespace()}: ${listed.slice(0, 8).join(', ')}${listed.length > 8 ? ` and ${listed.length - 8} more` : ''}`,
        "bind only knative/rbac.yaml's Role to the function's ServiceAccount (with an admin's kubeconfig, judge the function with --as system:serviceaccount:NS:NAME)",
      );
    },
  };
  return [...needed, extra];
}
