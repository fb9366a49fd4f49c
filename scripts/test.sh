#!/usr/bin/env bash
# Runs the whole gofaas test suite: formatting, vet, unit and integration
# tests (with the race detector), then the end-to-end tests that build the
# binaries and drive a real `gofaas server` over HTTP.
# Needs Go and gcc (for -race); as root it installs Prometheus and
# AlertManager from Debian's packages for one e2e test, which skips without
# them. Usage: ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test dependencies"
./scripts/test-deps.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...
go vet -tags e2e ./test/...

echo "== unit and integration tests"
go test -race -count=1 -timeout 15m ./...

echo "== end-to-end tests"
go test -tags e2e -count=1 -timeout 15m ./test/e2e/... ./internal/registry/

echo "== all tests passed"
