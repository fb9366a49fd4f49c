#!/usr/bin/env bash
# Cold-start benchmark: examples/hello (a golang-http-like function under
# fwatchdog in http mode) at zero replicas behind `gofaas server`; each round
# scales it to 0, waits until no replica is left, then times one call from
# the request to the first byte of the answer (curl's time_starttransfer):
# the gateway holds the call, starts a replica, waits for its /_/health and
# proxies. Prints the median and p99 of ROUNDS cold starts (targets: median
# <= 30 ms, p99 <= 100 ms) and one warm call for comparison.
#
# Usage: bench/coldstart/run.sh     (from anywhere; needs curl)
#   ROUNDS=20 BASE_PORT=19300 bench/coldstart/run.sh
set -euo pipefail

ROUNDS=${ROUNDS:-20}
BASE_PORT=${BASE_PORT:-19300}

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
init_work

echo "building gofaas and the publisher" >&2
(cd "$root" && go build -o "$work/" ./cmd/gofaas ./examples/publish)

gw=http://127.0.0.1:$BASE_PORT
# No load scaling and no idling: only this script scales the function.
"$work/gofaas" server --port "$BASE_PORT" --data-dir "$work/data" --autoscale=false \
	>"$work/server.out" 2>"$work/server.log" &
pids+=($!)
wait_ok "$gw/healthz"
pw=$(cat "$work/data/secrets/basic-auth-password")
(cd "$root" && "$work/publish" -gateway "$gw" -password-file "$work/data/secrets/basic-auth-password" >/dev/null)

curl -fsS -u "admin:$pw" -X POST "$gw/system/functions" \
	-d "{\"service\":\"hello\",\"image\":\"127.0.0.1:$BASE_PORT/hello:latest\",\"labels\":{\"com.openfaas.scale.min\":\"0\"}}" >/dev/null

# at_zero: wait until hello has no replica left (desired and running).
at_zero() {
	for _ in $(seq 1 400); do
		st=$(curl -fsS -u "admin:$pw" "$gw/system/function/hello")
		if ! grep -q '"replicas":[1-9]' <<<"$st" && ! grep -q '"availableReplicas":[1-9]' <<<"$st" &&
			! pgrep -f "$work/data/images/" >/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "hello did not reach zero replicas" >&2
	return 1
}

ttfb_ms() { # one call; prints the time to first byte in ms, fails on non-2xx
	curl -fsS -o /dev/null -w '%{time_starttransfer}\n' "$gw/function/hello" | awk '{ printf "%.3f\n", $1 * 1000 }'
}

: >"$work/cold.txt"
for i in $(seq 1 "$ROUNDS"); do
	curl -fsS -u "admin:$pw" -X POST "$gw/system/scale-function/hello" \
		-d '{"serviceName":"hello","replicas":0}' >/dev/null
	at_zero
	sleep 0.2 # let the machine settle after the last replica's exit
	ttfb_ms >>"$work/cold.txt"
	printf '.' >&2
done
echo >&2
warm=$(ttfb_ms)
isolation=$(grep 'gofaas server started' "$work/server.log" | grep -o 'isolation=[a-z]*' || true)

sort -n "$work/cold.txt" | awk -v n="$ROUNDS" -v warm="$warm" -v iso="$isolation" -v cores="$(nproc)" '
	{ v[NR] = $1 }
	END {
		median = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		r = int(0.99 * n); if (r < 0.99 * n) r++   # nearest rank
		printf "\ncold start of examples/hello at zero replicas, %d rounds, %s cores, %s\n", n, cores, iso
		printf "first call to first byte: median %.1f ms (target <= 30), p99 %.1f ms (target <= 100), min %.1f, max %.1f\n", median, v[r], v[1], v[n]
		printf "warm call for comparison: %.1f ms\n", warm
	}'
