// The addresses inside the real node's network namespace. None is routed anywhere: the
// namespace has loopback and the Pods' bridge, nothing else.
export const addresses = {
  /** The node's InternalIP, a /32 on lo: the kubelet refuses a loopback node IP. */
  node: '10.200.0.1',
  /** The Pods' bridge (cni0) and its subnet. */
  podSubnet: '10.244.0.0/24',
  /** The Service range; its first address is the `kubernetes` Service's ClusterIP. */
  serviceRange: '10.96.0.0/24',
  /**
   * The `kubernetes` Service's ClusterIP, put on lo with the API server listening on 443
   * on every address: Pods reach it through the bridge's gateway without kube-proxy or a
   * NAT rule, exactly at the address and port their KUBERNETES_SERVICE_* variables name.
   */
  kubernetesService: '10.96.0.1',
  apiPort: 443,
  registry: '127.0.0.1:5000',
  webhookPort: 9443,
};

export const nodeName = 'proa-node';
