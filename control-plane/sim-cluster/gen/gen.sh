#!/usr/bin/env bash
# Regenerates ../data/ from the pinned upstream modules (Go and the Go module
# proxy, or a filled module cache). See main.go for what each file holds.
set -euo pipefail
cd "$(dirname "$0")"
version=v1.37.2
dir=$(go mod download -json "k8s.io/kubernetes@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
GOWORK=off go run . -openapi "${dir}/api/openapi-spec/v3" -out ../data
