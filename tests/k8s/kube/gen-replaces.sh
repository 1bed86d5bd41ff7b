#!/bin/sh
# Regenerates the replace block of this module from k8s.io/kubernetes' own
# go.mod (fetched through the Go module proxy). Run once per Kubernetes bump:
#   sh gen-replaces.sh v1.37.2 && GOWORK=off go mod tidy
# k8s.io/kubernetes requires its staging modules at v0.0.0 and resolves them
# with `=> ./staging/...` replaces, which consumers ignore; so every staging
# module needs a replace here, at v0.<minor>.<patch>.
set -eu
KV=${1:?usage: gen-replaces.sh v1.MINOR.PATCH}
SV=v0.${KV#v1.}
cd "$(dirname "$0")"
GOMOD=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KV" |
	sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
grep -E '^go |^godebug' "$GOMOD"
# Drop the old staging replaces first, so a module removed upstream goes too.
for m in $(go mod edit -json | sed -n 's/.*"Path": "\(k8s.io\/[^"]*\)".*/\1/p' | sort -u); do
	go mod edit -dropreplace="$m" 2>/dev/null || true
done
for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => \./staging/.*#\1#p' "$GOMOD"); do
	go mod edit -replace="$m=$m@$SV"
done
go mod edit -require="k8s.io/kubernetes@$KV"
