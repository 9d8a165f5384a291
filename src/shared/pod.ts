// The Pod as proa reads it: the fields kube/decode.ts hands over, each with the type it
// claims (that file is the one boundary that checks them). Types only: every folder may
// read a Pod, and the rules over it live in pod/.

export interface Terminated {
  exitCode: number;
  signal?: number | undefined;
  reason?: string | undefined;
  finishedAt?: string | undefined;
  containerID?: string | undefined;
}

export interface ContainerState {
  waiting?: { reason?: string | undefined; message?: string | undefined } | undefined;
  running?: { startedAt?: string | undefined } | undefined;
  terminated?: Terminated | undefined;
}

export interface ContainerStatus {
  name: string;
  ready?: boolean | undefined;
  started?: boolean | undefined;
  restartCount?: number | undefined;
  containerID?: string | undefined;
  state?: ContainerState | undefined;
  lastState?: ContainerState | undefined;
}

/**
 * A probe as far as proa can run it itself (probes/prober.ts): its handler and the fields the
 * kubelet reads for it. `unplayed` names what makes it the kubelet's alone (an exec
 * handler, an alpha field, no handler it knows).
 */
export interface ProbeSpec {
  handler: 'httpGet' | 'tcpSocket' | 'grpc' | 'exec' | 'none';
  host?: string | undefined;
  /** A number, or a name to find among the container's ports. */
  port?: number | string | undefined;
  path?: string | undefined;
  scheme?: string | undefined;
  headers?: { name: string; value: string }[] | undefined;
  /** grpc: the service asked of grpc.health.v1.Health/Check. */
  service?: string | undefined;
  unplayed?: string | undefined;
  initialDelaySeconds?: number | undefined;
  timeoutSeconds?: number | undefined;
  successThreshold?: number | undefined;
}

export interface ContainerSpec {
  name: string;
  restartPolicy?: string | undefined;
  restartPolicyRules?: RestartRule[] | undefined;
  readinessProbe?: ProbeSpec | undefined;
  startupProbe?: ProbeSpec | undefined;
  image?: string | undefined;
  command?: string[] | undefined;
  args?: string[] | undefined;
  env?: { name: string; value?: string | undefined }[] | undefined;
  /** The ports it declares (containerPort) or its probes use (numbers only; named ports are not resolved). */
  ports?: number[] | undefined;
  /** Its declared ports that have a name, as a probe's `port: NAME` finds them (the first of a name wins, as the kubelet's lookup). */
  namedPorts?: Record<string, number> | undefined;
  /** Where the kubelet mounts its termination log (absolute; proa's own container's is where proa writes its summary). */
  terminationMessagePath?: string | undefined;
}

export interface Pod {
  metadata?: {
    name?: string | undefined;
    namespace?: string | undefined;
    uid?: string | undefined;
    resourceVersion?: string | undefined;
    deletionTimestamp?: string | undefined;
    annotations?: Record<string, string> | undefined;
  } | undefined;
  spec?: {
    containers?: ContainerSpec[] | undefined;
    initContainers?: ContainerSpec[] | undefined;
    restartPolicy?: string | undefined;
    terminationGracePeriodSeconds?: number | undefined;
    hostPID?: boolean | undefined;
    hostNetwork?: boolean | undefined;
    shareProcessNamespace?: boolean | undefined;
  } | undefined;
  status?: {
    phase?: string | undefined;
    /** Where the kubelet sends its probes (the node's address under hostNetwork). */
    podIP?: string | undefined;
    containerStatuses?: ContainerStatus[] | undefined;
    initContainerStatuses?: ContainerStatus[] | undefined;
    conditions?: { type: string; status?: string | undefined }[] | undefined;
  } | undefined;
}

/** One of a container's restartPolicyRules (pod/restarts.ts reads them as the kubelet does). */
export interface RestartRule {
  action: string;
  operator: string;
  values: number[];
}

/** The container named `name` (regular or init), as the spec has it. */
export function specOf(pod: Pod, name: string): ContainerSpec | undefined {
  return pod.spec?.containers?.find((c) => c.name === name) ?? pod.spec?.initContainers?.find((c) => c.name === name);
}

/**
 * Each status list indexed by name once, on first use: a Pod's statuses are looked up per
 * awaited container on every event, and a scan each time made an event cost quadratic in
 * the number of containers (20,000: 3.5 s of CPU per event). The first status of a name
 * wins, as the scan's did.
 */
const indexes = new WeakMap<readonly ContainerStatus[], Map<string, ContainerStatus>>();

export function statusOf(pod: Pod, name: string, native: boolean): ContainerStatus | undefined {
  const list = native ? pod.status?.initContainerStatuses : pod.status?.containerStatuses;
  if (!list) return undefined;
  let index = indexes.get(list);
  if (!index) {
    index = new Map();
    for (const s of list) if (!index.has(s.name)) index.set(s.name, s);
    indexes.set(list, index);
  }
  return index.get(name);
}
