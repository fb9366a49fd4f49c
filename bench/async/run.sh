#!/usr/bin/env bash
# Async benchmark: wrk POSTs to /async-function/bench of `gofaas server`
# (embedded NATS, JetStream on disk) where bench is the no-op upstream of
# bench/watchdog behind fwatchdog's http mode. Prints calls/s accepted
# (202, stored on disk), calls/s completed (accepted and invoked, from the
# first request until the queue is empty), the p99 queueing delay (enqueue
# to first attempt, from gofaas_queue_delay_seconds) and the server's CPU time
# per call. The worker runs in the same process and drains while wrk posts,
# so the rates depend on what else the machine runs; CPU per call much less.
# Targets: >= 5,000 accepted/s, >= 2,000 completed/s.
#
# Usage: bench/async/run.sh            (from anywhere; needs curl)
#   DURATION=10s CONNS=32 THREADS=2 INFLIGHT=64 BASE_PORT=19300 bench/async/run.sh
#   CPUPROFILE=/tmp/async.pprof bench/async/run.sh   (CPU profile of the server
#   during the measured run; read it with `go tool pprof -top gofaas FILE`)
set -euo pipefail

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
INFLIGHT=${INFLIGHT:-64}
BASE_PORT=${BASE_PORT:-19300}
CPUPROFILE=${CPUPROFILE:-}

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
init_work
ensure_wrk
post_script

echo "building gofaas and the publisher" >&2
(cd "$root" && go build -o "$work/" ./cmd/gofaas ./examples/publish)

gw=http://127.0.0.1:$BASE_PORT
pprof=127.0.0.1:$((BASE_PORT + 1))
[ -n "$CPUPROFILE" ] && export GOFAAS_PPROF=$pprof
"$work/gofaas" server --port "$BASE_PORT" --data-dir "$work/data" --queue-max-inflight "$INFLIGHT" \
	>"$work/server.out" 2>"$work/server.log" &
server=$!
pids+=($server)
wait_ok "$gw/healthz"
pw=$(cat "$work/data/secrets/basic-auth-password")
(cd "$root" && "$work/publish" -gateway "$gw" -password-file "$work/data/secrets/basic-auth-password" \
	-image bench:latest -handler ./bench/watchdog/upstream -fprocess ./handler >/dev/null)
curl -fsS -u "admin:$pw" -X POST "$gw/system/functions" \
	-d "{\"service\":\"bench\",\"image\":\"127.0.0.1:$BASE_PORT/bench:latest\"}" >/dev/null
wait_ok "$gw/function/bench"

# metric NAME: the sum of a metric's samples on /metrics.
metric() {
	curl -fsS "$gw/metrics" | awk -v m="$1" '$1 ~ "^"m"({|$)" {s += $NF} END {printf "%d", s}'
}

# finished: calls done for good. Every attempt is observed once in
# gofaas_queue_processing_seconds; attempts that will be retried are also
# counted in gofaas_queue_retries_total, so they are not calls done.
finished() {
	echo $(($(metric gofaas_queue_processing_seconds_count) - $(metric gofaas_queue_retries_total)))
}

# cpu_ticks: the server's user+system CPU time in clock ticks.
cpu_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$server/stat"
}

if [ -n "$CPUPROFILE" ]; then
	# Skip wrk's 2 s warm-up, then profile most of the measured run.
	secs=${DURATION%s}
	(sleep 3 && curl -fsS -o "$CPUPROFILE" "http://$pprof/debug/pprof/profile?seconds=$((secs > 3 ? secs - 2 : 1))") &
	pids+=($!)
fi
start=$(date +%s.%N)
ticks0=$(cpu_ticks)
measure async "$gw/async-function/bench"
enqueued=$(metric gofaas_queue_enqueued_total)
for _ in $(seq 1 600); do
	done_calls=$(finished)
	[ "$done_calls" -ge "$enqueued" ] && break
	sleep 0.1
done
end=$(date +%s.%N)
ticks1=$(cpu_ticks)
retries=$(metric gofaas_queue_retries_total)
p99=$(curl -fsS "$gw/metrics" | awk '
	/^gofaas_queue_delay_seconds_bucket/ { match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); c[le] += $NF; if (!(le in seen)) { seen[le] = 1; order[n++] = le } }
	END {
		total = c["+Inf"]; if (total == 0) { print "n/a"; exit }
		for (i = 0; i < n; i++) if (c[order[i]] >= 0.99 * total) { printf "<= %s s", order[i]; exit }
	}')

printf '\nwrk -t%s -c%s -d%s, POST 5 bytes, %s cores, queue max in flight %s\n' "$THREADS" "$CONNS" "$DURATION" "$(nproc)" "$INFLIGHT"
printf 'accepted (202):  %10s calls/s   p50 %s ms, p99 %s ms   (target >= 5000/s)\n' "${RPS[async]}" "${P50[async]}" "${P99[async]}"
awk -v n="$enqueued" -v d="$done_calls" -v s="$start" -v e="$end" 'BEGIN {
	printf "completed:       %10.0f calls/s   (%d of %d calls in %.1f s; target >= 2000/s)\n", d / (e - s), d, n, e - s }'
printf 'queueing delay p99 (enqueue to first attempt): %s\n' "$p99"
awk -v t="$((ticks1 - ticks0))" -v hz="$(getconf CLK_TCK)" -v n="$enqueued" -v r="$retries" -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN {
	printf "server CPU per call (enqueue + run): %.0f us   (%d retried attempts; load average %s)\n", t / hz * 1e6 / n, r, l }'
if [ "$done_calls" -ne "$enqueued" ]; then
	echo "calls done ($done_calls) differ from calls stored ($enqueued); errors in the server log:" >&2
	grep 'level=ERROR' "$work/server.log" | head -5 >&2
fi
