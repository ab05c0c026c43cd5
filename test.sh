#!/usr/bin/env bash
# Runs every test of msgpattern, installing what the tests need first.
#   ./test.sh            everything: install, vet, staticcheck, tests with -race, short fuzz runs
#   FUZZTIME=1m ./test.sh   longer fuzz runs
# Needs: Go 1.26+ with a C compiler (for -race), node 20+ and npm (for the NestJS interop tests).
set -euo pipefail
cd "$(dirname "$0")"

FUZZTIME=${FUZZTIME:-10s}
STATICCHECK_VERSION=v0.8.2

step() { printf '\n== %s\n' "$*" >&2; }

# go test -race needs cgo, hence a C compiler: say so now, not after vet
# and staticcheck.
if [ "$(go env CGO_ENABLED)" != 1 ]; then
  echo "go test -race needs cgo: install a C compiler (gcc) or set CGO_ENABLED=1" >&2
  exit 1
fi

step "installing the NestJS peers (interop/nestjs, npm ci)"
if command -v node >/dev/null && command -v npm >/dev/null; then
  if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    echo "node 20+ is required for the NestJS interop tests (found $(node --version))" >&2
    exit 1
  fi
  sh interop/nestjs/install.sh
elif command -v node >/dev/null; then
  # The interop tests find node and install the packages with npm: they
  # would fail, not skip.
  echo "node is installed but npm is not: install npm (the interop tests need it)" >&2
  exit 1
elif [ "${CI:-}" = "true" ]; then
  echo "node and npm are required for the NestJS interop tests" >&2
  exit 1
else
  echo "node/npm not found: the interop tests will skip" >&2
fi

if command -v node >/dev/null && command -v npm >/dev/null; then
  # The control for the interop tests: every scenario the Go tests expect of
  # a NestJS peer holds between NestJS peers themselves (selftest.mjs).
  step "the interop harness's own check: NestJS clients against NestJS servers"
  if ! out=$(node interop/nestjs/selftest.mjs 2>&1); then
    echo "$out" >&2; exit 1
  fi
  tail -n 1 <<<"$out"
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted:" >&2; echo "$unformatted" >&2; exit 1
fi

step "go vet (the module, and the benchmark suite's own module in bench/)"
go vet ./...
(cd bench && go vet ./...)

step "go vet as built for windows, macOS and 32-bit linux (type-checks the code and tests behind build constraints, and constants that overflow a 32-bit int)"
GOOS=windows GOARCH=amd64 go vet ./...
GOOS=darwin GOARCH=arm64 go vet ./...
GOOS=linux GOARCH=386 go vet ./...

step "staticcheck $STATICCHECK_VERSION (both modules)"
go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...
(cd bench && go run "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION" ./...)

# -timeout: the rpc package alone takes about 4 minutes under -race on a
# 2-core machine, and twice that when the machine is shared; go test's
# default of 10 minutes per package would fail a slower CI machine.
step "go test -race (all packages, and the benchmark suite's own module in bench/)"
go test -race -count=1 -timeout 30m ./...
(cd bench && go test -race -count=1 -timeout 10m ./...)

# The pins of pooled paths (the server's per-request counts, object
# patterns' routing) are loosened or left out under -race: here they hold
# exactly.
step "allocation counts, without -race (which makes sync.Pool drop items)"
go test -count=1 -run 'Allocations|Numbers|^TestRouteAllocs$' ./rpc/ ./internal/structjson/ ./pattern/

# crypto/tls picks ChaCha20-Poly1305 on a CPU without AES instructions: the
# tests that seal TLS records by hand take that path too.
step "TLS tests that seal records by hand, as on a CPU without AES instructions (ChaCha20-Poly1305)"
GODEBUG=cpu.aes=off go test -count=1 -run 'TestTLSKeyUpdate|TestTLSPostHandshake' ./rpc/

step "idle connections' stacks, without -race (larger frames) and alone in a fresh process"
go test -count=1 -run '^TestIdleConnectionWaitsOnOneSmallStack$' -v ./rpc/ | grep -E '^(--- |ok|FAIL|\s+idle_test)'
go test -count=1 -run '^TestIdlePingedConnectionWaitsOnSmallStack$' -v ./rpc/ | grep -E '^(--- |ok|FAIL|\s+idle_ping_stack_test)'

step "every benchmark once, so that none rots (times are not checked)"
if ! out=$(go test -count=1 -run '^$' -bench . -benchtime 1x ./... 2>&1); then
  echo "$out" >&2; exit 1
fi

step "fuzzing each target for $FUZZTIME"
# fuzz TARGET PKG runs one target ('go test -fuzz' takes one at a time).
# Go 1.26's fuzzing coordinator can report its own -fuzztime deadline as
# the target failing: "context deadline exceeded" right at the end, no
# failing input (go.dev/issue/75804, fixed in Go 1.27). A run that fails
# in exactly that way, and only that way, is run once more; any other
# failure, and that one twice, fails the step.
fuzz() {
  local out rc
  for attempt in 1 2; do
    out=$(go test -run '^$' -fuzz "^$1\$" -fuzztime "$FUZZTIME" "$2" 2>&1) && rc=0 || rc=$?
    echo "$out"
    [ "$rc" -eq 0 ] && return 0
    if [ "$attempt" -eq 1 ] && ! grep -q 'Failing input written\|panic:' <<<"$out" &&
      [ "$(grep -A1 -- '^--- FAIL: ' <<<"$out" | sed -n 2p | tr -d '[:space:]')" = contextdeadlineexceeded ]; then
      echo "-- $1: the toolchain's fuzztime deadline race (go.dev/issue/75804), no failing input: running it again"
      continue
    fi
    return 1
  done
}
for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' -r --include='*_test.go' . | sort -u | sed 's/func //'); do
  pkg=$(grep -l "^func $target(" -r --include='*_test.go' . | head -n1 | xargs dirname)
  fuzz "$target" "$pkg"
done

step "all tests passed"
