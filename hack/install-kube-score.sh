#!/usr/bin/env bash
# Installs kube-score (github.com/zegl/kube-score), the Kubernetes manifest linter the chart tests
# run over the rendered chart, from the Go module proxy into the ksleuth cache, once.
# Prints the path of the binary as its last line.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-go-tool.sh" kube-score github.com/zegl/kube-score/cmd/kube-score v1.20.0
