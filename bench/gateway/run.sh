#!/usr/bin/env bash
# Gateway benchmark: the tiny upstream of bench/watchdog measured directly,
# then the same upstream as a function behind `gofaas server`
# (gateway -> process back-end -> fwatchdog http mode -> upstream, one
# replica). Prints req/s, p50 and p99 of both and the ratios (targets:
# >= 25% of direct req/s, p99 <= 3x direct), then the server's RSS when
# idle with 10 functions deployed (target <= 60 MB).
#
# Usage: bench/gateway/run.sh            (from anywhere; needs curl)
#   DURATION=10s CONNS=32 THREADS=2 BASE_PORT=19200 bench/gateway/run.sh
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-19200}

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
init_work
ensure_wrk
post_script

echo "building gofaas, the upstream and the publisher" >&2
(cd "$root" && go build -o "$work/" ./cmd/gofaas ./examples/publish && CGO_ENABLED=0 go build -o "$work/upstream" ./bench/watchdog/upstream)

direct_port=$BASE_PORT
gw_port=$((BASE_PORT + 1))
gw=http://127.0.0.1:$gw_port

"$work/upstream" -addr "127.0.0.1:$direct_port" &
pids+=($!)
wait_ok "http://127.0.0.1:$direct_port/"
measure direct "http://127.0.0.1:$direct_port/"
kill "${pids[-1]}"

"$work/gofaas" server --port "$gw_port" --data-dir "$work/data" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
pids+=($server_pid)
wait_ok "$gw/healthz"
pw=$(cat "$work/data/secrets/basic-auth-password")
(cd "$root" && "$work/publish" -gateway "$gw" -password-file "$work/data/secrets/basic-auth-password" \
	-image bench:latest -handler ./bench/watchdog/upstream -fprocess ./handler >/dev/null)

# GOFAAS_LANE=off (docs/invocation-path.md) reaches the server from this
# environment and the function's fwatchdog through its envVars.
env_vars='{}'
if [ -n "${GOFAAS_LANE:-}" ]; then env_vars="{\"GOFAAS_LANE\":\"$GOFAAS_LANE\"}"; fi
deploy() { # deploy NAME: pinned at one replica (min == max), so the autoscaler leaves it
	curl -fsS -u "admin:$pw" -X POST "$gw/system/functions" \
		-d "{\"service\":\"$1\",\"image\":\"127.0.0.1:$gw_port/bench:latest\",\"envVars\":$env_vars,\"labels\":{\"com.openfaas.scale.min\":\"1\",\"com.openfaas.scale.max\":\"1\"}}" >/dev/null
}
deploy hello
wait_ok "$gw/function/hello"
measure gofaas "$gw/function/hello"

for i in $(seq 1 9); do deploy "idle$i"; done
for i in $(seq 1 9); do wait_ok "$gw/function/idle$i"; done
sleep 5 # let the server settle: no calls, ten functions
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status")
isolation=$(grep 'gofaas server started' "$work/server.log" | grep -o 'isolation=[a-z]*')

printf '\nwrk -t%s -c%s -d%s, POST 5 bytes, %s cores, %s, lane %s\n' "$THREADS" "$CONNS" "$DURATION" "$(nproc)" "$isolation" "${GOFAAS_LANE:-on}"
printf '%-36s %12s %10s %10s\n' "target" "req/s" "p50 ms" "p99 ms"
printf '%-36s %12s %10s %10s\n' "upstream direct" "${RPS[direct]}" "${P50[direct]}" "${P99[direct]}"
printf '%-36s %12s %10s %10s\n' "gofaas /function/hello (1 replica)" "${RPS[gofaas]}" "${P50[gofaas]}" "${P99[gofaas]}"
awk -v g="${RPS[gofaas]}" -v d="${RPS[direct]}" -v gp="${P99[gofaas]}" -v dp="${P99[direct]}" -v rss="$rss_kb" 'BEGIN {
	printf "\ngofaas req/s ratio to direct: %.1f%% (target >= 25%%)\n", 100 * g / d
	printf "gofaas p99 ratio to direct:   %.2fx (target <= 3x)\n", gp / dp
	printf "server RSS, idle, 10 functions: %.1f MB (target <= 60 MB)\n", rss / 1024
}'
