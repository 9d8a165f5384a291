//go:build tools

// The registry the real node pulls every image from (its main package is cmd/registry).
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
