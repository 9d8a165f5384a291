//go:build tools

// The two programs this module builds, named so that `go mod tidy` keeps their
// dependencies: kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver) and etcd
// (go.etcd.io/etcd/server/v3, whose main package is the module's root).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
