// `proa check` and the Kubernetes API: access (TLS against the service account's CA, the
// token), the Role's rules (SelfSubjectAccessReviews), and the Pod itself through the same
// boundary as the watch's events (kube/decode.ts). What would stop the watch is a blocking
// problem, or a warning where proa would fall back to the endpoints.
import type { Config } from '../cli/cli.ts';
import type { Pod } from '../shared/pod.ts';
import { ApiClient, isTlsFailure, type TransportError } from '../kube/client.ts';
import { loadClusterAccess, NotInCluster, type Identity } from '../kube/config.ts';
import { decodePod } from '../kube/decode.ts';
import { rbacYaml } from '../kube/rbac.ts';
import { terminationLogPath } from '../report/termination.ts';
import { field, json, type Report } from './report.ts';

export interface Version {
  gitVersion: string | undefined;
  major: string | undefined;
  minor: string | undefined;
}

/** What the API gave the check: its version and the Pod; undefined when a finding ended the check. */
export async function apiFindings(r: Report, config: Config, env: NodeJS.ProcessEnv, id: Identity, withEndpoints: boolean): Promise<{ version: Version; pod: Pod } | undefined> {
  let access;
  try {
    access = loadClusterAccess(env, config.serviceAccountDir);
  } catch (err) {
    if (!(err instanceof NotInCluster)) throw err;
    if (withEndpoints) {
      r.add('mode', 'warn', `no Kubernetes API access (${err.message}): proa would judge the sidecars by their endpoints alone ` +
        '(ready when they answer; exited when they refuse connections); --shutdown-auto and the Pod\'s spec are not available');
      return undefined;
    }
    r.add('api', 'fail', `cannot use the Kubernetes API: ${err.message}; without it, give the sidecars' endpoints (--wait-http URL, --wait-tcp HOST:PORT)`);
    return undefined;
  }
  // With endpoints, what would stop the watch makes proa fall back to them: a warning.
  const blocked = (section: string, text: string, block?: string): void => {
    if (!withEndpoints) return r.add(section, 'fail', text, block);
    r.add(section, 'warn', text, block);
    r.add('mode', 'warn', 'proa would fall back to the endpoints alone: ready when they answer, exited when they refuse connections');
  };
  r.add('mode', 'info', withEndpoints ? 'the watch and the endpoints: the command would start when both agree; ' +
    'if the API refuses the Pod or cannot be reached for 10 s, proa falls back to the endpoints alone' : 'the watch on this Pod');
  const client = new ApiClient(access);
  const version = await versionFindings(r, client, `https://${access.host}:${access.port}`, config, blocked);
  if (!version || !(await rbacFindings(r, client, config, id, blocked))) return undefined;
  const pod = await fetchPod(r, client, id);
  return pod && { version, pod };
}

type Blocked = (section: string, text: string, block?: string) => void;

async function versionFindings(r: Report, client: ApiClient, where: string, config: Config, blocked: Blocked): Promise<Version | undefined> {
  let version;
  try {
    version = await client.request('GET', '/version');
  } catch (err) {
    const e = err as TransportError;
    const tls = isTlsFailure(e.code);
    blocked('api', tls ? `${where}: TLS not verified against ${config.serviceAccountDir}/ca.crt: ${e.code} (${e.message})` : `${where}: cannot reach the API server: ${e.message}`);
    return undefined;
  }
  if (version.status === 401) {
    blocked('api', `${where}: TLS verified; the service-account token was rejected (401)`);
    return undefined;
  }
  const answer = version.status === 200 ? json(version.body) : undefined;
  const text = (key: string): string | undefined => (typeof field(answer, key) === 'string' ? (field(answer, key) as string).slice(0, 64) : undefined);
  const v = { gitVersion: text('gitVersion'), major: text('major'), minor: text('minor') };
  r.add('api', 'ok', `${where}: TLS verified against ca.crt; token accepted; Kubernetes ${v.gitVersion ?? `(version not readable: HTTP ${version.status}${version.status === 200 ? ', not a version document' : ''})`}`);
  return v;
}

async function allowed(client: ApiClient, resourceAttributes: Record<string, string>): Promise<boolean> {
  const review = await client.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes },
  });
  return review.status === 201 && field(field(json(review.body), 'status'), 'allowed') === true;
}

/** The Role's rules for the watch (needed) and for Events (optional), and where the termination message goes. */
async function rbacFindings(r: Report, client: ApiClient, config: Config, id: Identity, blocked: Blocked): Promise<boolean> {
  const namespace = id.namespace.value;
  const account = client.serviceAccount() ?? `${namespace}/(this Pod's service account)`;
  const denied: string[] = [];
  for (const verb of ['get', 'list', 'watch']) {
    if (!(await allowed(client, { namespace, verb, resource: 'pods' }))) denied.push(verb);
  }
  if (denied.length > 0) {
    blocked('rbac', `service account ${account} may not ${denied.join(', ')} pods in namespace ${namespace}; apply:`, rbacYaml(client.serviceAccount(), namespace));
    return false;
  }
  r.add('rbac', 'ok', `service account ${account} may get, list and watch pods in namespace ${namespace}`);
  if (config.events) {
    const may = await allowed(client, { namespace, verb: 'create', group: 'events.k8s.io', resource: 'events' });
    r.add('rbac', may ? 'ok' : 'info', may ? "proa's steps will be posted as Events on the Pod (kubectl describe pod)"
      : 'no Events will be posted (optional): the Role lacks {apiGroups: ["events.k8s.io", ""], resources: ["events"], verbs: ["create", "patch"]}');
  } else r.add('rbac', 'info', 'no Events will be posted (--events off)');
  const log = terminationLogPath();
  r.add('pod', 'info', log ? `at exit, proa writes its summary to ${log}, the termination message kubectl describe pod shows: its exit code and the program's, ` +
    'how long the sidecars took to be ready and by whom, each shutdown action and its answer, how long they took to stop or which did not, the first error'
    : 'no termination log is mounted here (not in a Pod?): no termination message');
  return true;
}

async function fetchPod(r: Report, client: ApiClient, id: Identity): Promise<Pod | undefined> {
  const got = await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(id.namespace.value)}/pods/${encodeURIComponent(id.pod.value)}`);
  if (got.status !== 200) {
    r.add('pod', 'fail', `Pod ${id.pod.value} not found in namespace ${id.namespace.value} (${got.status}): name from ${id.pod.source}, namespace from ${id.namespace.source}`);
    return undefined;
  }
  if (got.cut) {
    r.add('pod', 'fail', `the API's answer for Pod ${id.pod.value} could not be read: ${got.cut}`);
    return undefined;
  }
  const body = json(got.body);
  if (body === undefined) {
    r.add('pod', 'fail', `the API's answer for Pod ${id.pod.value} is not JSON (${got.body.length} bytes): a proxy's page in front of the API server?`);
    return undefined;
  }
  const { pod, problems } = decodePod(body);
  for (const problem of problems) r.add('pod', 'warn', `a field of the Pod proa cannot read, taken as unknown: ${problem}`);
  return pod;
}
