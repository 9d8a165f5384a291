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
  /** A line proa's log must have (a JSON log line's msg), saying why. */
  says: RegExp;
}

/** A Job: proa in `main` waits at most 15 s for `sidecar` (Python, serving on 8080, quitting on GET /shutdown). */
function job(name: string, { bind, subject }: { bind: string; subject: string }): string {
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
        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
      - name: sidecar
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
---
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
---
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

export const fidelity: Fidelity[] = [
  {
    name: 'a RoleBinding to another service account grants proa nothing',
    manifest: job('bound-elsewhere', { bind: '0.0.0.0', subject: 'someone-else' }),
    phase: 'Failed', mainExit: 5, says: /forbidden/,
  },
  {
    name: 'a health check bound to 127.0.0.1 is never ready: the kubelet probes the Pod\'s IP',
    manifest: job('localhost-only', { bind: '127.0.0.1', subject: 'proa' }),
    phase: 'Failed', mainExit: 5, says: /^sidecars not ready after 15000ms/,
  },
  {
    name: 'the control: the same Job done right completes',
    manifest: job('done-right', { bind: '0.0.0.0', subject: 'proa' }),
    phase: 'Succeeded', mainExit: 0, says: /^all sidecars are ready/,
  },
];
