// Manifests a rehearsal in the simulator got wrong (it said yes where a cluster says no),
// each with what a real node does with it. The simulator plays them in fidelity.test.ts
// on the fake and the real API server; the real node in node-fidelity.test.ts, with the
// same expectations: the stand-in is held to the real thing.

export interface Fidelity {
  name: string;
  manifest: string;
  /** What the real node ends with: the Job's Pod phase and main's exit code (proa's). */
  phase: string;
  mainExit: number;
  /** Lines proa's log must have (a JSON log line's msg each), saying why. */
  says: RegExp[];
}

/** The Pod's name and namespace through the downward API, as the README's Jobs pass them. */
const downwardApi = `        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
`;

/** The README's ServiceAccount, Role and RoleBinding, bound to `subject`; `events`: the optional rule. */
function rbac(name: string, subject: string, events: boolean): string {
  return `---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: proa
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: ${name}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
${events ? `- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
` : ''}---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${name}
subjects:
- kind: ServiceAccount
  name: ${subject}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: ${name}
`;
}

/** A Job: proa in `main` waits at most 15 s for `sidecar` (Python, serving on 8080, quitting on GET /shutdown). */
function job(name: string, { bind, subject, events = true }: { bind: string; subject: string; events?: boolean }): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
data:
  sidecar.py: |
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from threading import Thread
    class Sidecar(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            if self.path == "/shutdown":
                print("Received /shutdown; shutting down.")
                Thread(target=self.server.shutdown).start()
    HTTPServer(("${bind}", 8080), Sidecar).serve_forever()
---
apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: proa
      containers:
      - name: main
        image: some-image-with-both-proa-and-your-application
        command: [/usr/local/bin/proa, --ready-timeout=15s, --shutdown-http-get=http://localhost:8080/shutdown, --, curl, -sSf, http://localhost:8080/]
${downwardApi}      - name: sidecar
        image: python:3
        command: [python, -u, /script/sidecar.py]
        readinessProbe:
          httpGet:
            port: 8080
          periodSeconds: 1
        volumeMounts:
        - mountPath: /script
          name: script
      volumes:
      - name: script
        configMap:
          name: ${name}
${rbac(name, subject, events)}`;
}

/** A Job whose proa, as a user without capabilities, may not signal the root log shipper it is asked to --kill. */
const nonRootKill = `apiVersion: batch/v1
kind: Job
metadata:
  name: non-root-kill
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: proa
      shareProcessNamespace: true
      activeDeadlineSeconds: 25
      containers:
      - name: main
        image: registry.example/report:3.1
        command: [/usr/local/bin/proa, --kill=fluent-bit, --shutdown-timeout=3s, --, sh, -c, "echo done"]
        securityContext:
          runAsUser: 1000
          capabilities:
            drop: [ALL]
${downwardApi}      - name: log-shipper
        image: cr.fluentbit.io/fluent/fluent-bit:3.2.10
        args: [--http, --input=tail, --prop=path=/var/log/app/*.log, --output=stdout]
        readinessProbe:
          httpGet:
            path: /
            port: 2020
          periodSeconds: 1
${rbac('non-root-kill', 'proa', false)}`;

export const fidelity: Fidelity[] = [
  {
    name: '--kill as a non-root user without CAP_KILL: the kernel refuses (EPERM), the log shipper runs on until the deadline',
    manifest: nonRootKill,
    phase: 'Failed', mainExit: 0, says: [/^not permitted to signal fluent-bit \(pid \d+\): it runs as uid 0 and proa as uid 1000, without CAP_KILL/],
  },
  {
    name: 'a RoleBinding to another service account grants proa nothing',
    manifest: job('bound-elsewhere', { bind: '0.0.0.0', subject: 'someone-else' }),
    phase: 'Failed', mainExit: 5, says: [/forbidden/],
  },
  {
    name: 'a health check bound to 127.0.0.1 is never ready: the kubelet probes the Pod\'s IP',
    manifest: job('localhost-only', { bind: '127.0.0.1', subject: 'proa' }),
    phase: 'Failed', mainExit: 5, says: [/^sidecars not ready after 15000ms/,
      // The kubelet's Unhealthy event, read on the timeout: the probe went to the Pod's IP.
      /^sidecar sidecar: the kubelet's last probe failure \(\d+ in all, last at \S+\): Readiness probe failed: Get "http:\/\/[\d.]+:8080\/": dial tcp [\d.]+:8080: connect: connection refused$/],
  },
  {
    name: 'the same, with a Role that may not list events: proa says where the probe failures are',
    manifest: job('localhost-no-events', { bind: '127.0.0.1', subject: 'proa', events: false }),
    phase: 'Failed', mainExit: 5, says: [/^sidecars not ready after 15000ms/,
      /^the kubelet's probe failures are in kubectl describe pod \S+: proa may not list events \(add verbs \[list\] on resource events to its Role/],
  },
  {
    name: 'the control: the same Job done right completes',
    manifest: job('done-right', { bind: '0.0.0.0', subject: 'proa' }),
    phase: 'Succeeded', mainExit: 0, says: [/^all sidecars are ready/],
  },
];
