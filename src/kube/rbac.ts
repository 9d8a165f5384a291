// The Role and RoleBinding proa needs, as text to apply: what `proa check` and the
// fall-back to the endpoints show when the API refuses proa.

/**
 * For a service account given as `namespace/name`, as the token's claims say it (or,
 * where they do not, the Pod's namespace and a placeholder to fill in): get, list and
 * watch on pods there.
 */
export function rbacYaml(serviceAccount: string | undefined, podNamespace: string): string {
  const [ns, account] = serviceAccount?.includes('/') ? serviceAccount.split('/') : [podNamespace, "(this Pod's service account)"];
  return `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: proa, namespace: ${ns}}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Optional: proa's steps as Events on its Pod (kubectl describe pod)
- apiGroups: ["events.k8s.io", ""]
  resources: ["events"]
  verbs: ["create", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: proa, namespace: ${ns}}
subjects:
- kind: ServiceAccount
  name: ${account}
  namespace: ${ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: proa}`;
}
