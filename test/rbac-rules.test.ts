/** The function's Role (knative/rbac.yaml) and the table doctor checks against (RECORD_STORE_RULES) are one. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { expect, it } from 'vitest';
import { RECORD_STORE_RULES } from '../shared/records/rbac-rules.js';

it("grants in knative/rbac.yaml's Role exactly the rules doctor checks", () => {
  const documents = loadAll(
    readFileSync(fileURLToPath(new URL('../knative/rbac.yaml', import.meta.url)), 'utf8'),
  ) as {
    kind: string;
    rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  }[];
  const role = documents.find((document) => document.kind === 'Role');
  const granted = (role?.rules ?? []).flatMap((rule) =>
    rule.apiGroups.flatMap((apiGroup) =>
      rule.resources.map((resource) => ({ apiGroup, resource, verbs: [...rule.verbs].sort() })),
    ),
  );
  const checked = RECORD_STORE_RULES.map((rule) => ({ ...rule, verbs: [...rule.verbs].sort() }));
  const key = (rule: { apiGroup: string; resource: string }) => `${rule.apiGroup}/${rule.resource}`;
  expect(granted.sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
    checked.sort((a, b) => key(a).localeCompare(key(b))),
  );
});
