//go:build tools

// The programs this module builds, named so that `go mod tidy` keeps their
// dependencies: kube-apiserver and etcd (go.etcd.io/etcd/server/v3, whose main package
// is the module's root) for the real-API-server tier; kubelet, kube-controller-manager,
// kube-scheduler and kubectl for the real node.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
