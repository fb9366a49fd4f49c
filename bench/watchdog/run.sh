#!/usr/bin/env bash
# Watchdog throughput benchmark: a tiny Go upstream measured directly, the
# same upstream behind fwatchdog in http mode, and fwatchdog in classic mode
# forking `cat` per request. Prints req/s, p50 and p99 of each, and the
# ratios of http mode to the direct upstream (the issue's target: >= 33% of
# direct req/s, p99 within 2x).
#
# Usage: bench/watchdog/run.sh            (from the repository root)
#   DURATION=10s CONNS=32 THREADS=2 bench/watchdog/run.sh
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
BASE_PORT=${BASE_PORT:-19100}

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
init_work
ensure_wrk

echo "building fwatchdog and the upstream" >&2
(cd "$root" && CGO_ENABLED=0 go build -ldflags="-s -w" -o "$work/fwatchdog" ./cmd/fwatchdog)
(cd "$root" && CGO_ENABLED=0 go build -o "$work/upstream" ./bench/watchdog/upstream)
(cd "$root" && CGO_ENABLED=0 go build -o "$work/spawn" ./bench/watchdog/spawn)

post_script

direct_port=$BASE_PORT
http_port=$((BASE_PORT + 1))
inner_port=$((BASE_PORT + 2))
classic_port=$((BASE_PORT + 3))
export metrics_port=0 TMPDIR=$work

"$work/upstream" -addr "127.0.0.1:$direct_port" &
pids+=($!)
wait_ok "http://127.0.0.1:$direct_port/"
measure direct "http://127.0.0.1:$direct_port/"
kill "${pids[-1]}"

mkdir -p "$work/http" "$work/classic"
TMPDIR=$work/http mode=http port=$http_port upstream_url="http://127.0.0.1:$inner_port" \
	fprocess="$work/upstream -addr 127.0.0.1:$inner_port" "$work/fwatchdog" 2>"$work/http.log" &
pids+=($!)
wait_ok "http://127.0.0.1:$http_port/_/health"
measure http "http://127.0.0.1:$http_port/"
kill "${pids[-1]}"

TMPDIR=$work/classic port=$classic_port fprocess=cat healthcheck_interval=0 "$work/fwatchdog" 2>"$work/classic.log" &
pids+=($!)
wait_ok "http://127.0.0.1:$classic_port/_/health"
measure classic "http://127.0.0.1:$classic_port/"
kill "${pids[-1]}"

# The ceiling for classic mode: forking cat from Go with no HTTP at all.
spawn_rate=$("$work/spawn" -d "$DURATION" -program cat)

printf '\nwrk -t%s -c%s -d%s, POST 5 bytes, %s cores\n' "$THREADS" "$CONNS" "$DURATION" "$(nproc)"
printf '%-28s %12s %10s %10s\n' "target" "req/s" "p50 ms" "p99 ms"
printf '%-28s %12s %10s %10s\n' "upstream direct" "${RPS[direct]}" "${P50[direct]}" "${P99[direct]}"
printf '%-28s %12s %10s %10s\n' "fwatchdog http mode" "${RPS[http]}" "${P50[http]}" "${P99[http]}"
printf '%-28s %12s %10s %10s\n' "fwatchdog classic (cat)" "${RPS[classic]}" "${P50[classic]}" "${P99[classic]}"
printf '%-28s %12s\n' "fork+exec cat, no HTTP" "$spawn_rate"
awk -v h="${RPS[http]}" -v d="${RPS[direct]}" -v hp="${P99[http]}" -v dp="${P99[direct]}" -v c="${RPS[classic]}" -v s="$spawn_rate" 'BEGIN {
	printf "\nhttp mode req/s ratio to direct: %.1f%% (target >= 33%%)\n", 100 * h / d
	printf "http mode p99 ratio to direct:   %.2fx (target <= 2x)\n", hp / dp
	printf "classic cat req/s:               %.0f (target >= 2000); %.1f%% of the bare fork+exec ceiling\n", c, 100 * c / s
}'
