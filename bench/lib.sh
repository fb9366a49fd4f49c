# Shared helpers for the benchmark scripts; source it, do not run it.
# Callers set THREADS, CONNS and DURATION, then call init_work.

# init_work makes a temp folder in $work and an array pids of background
# processes; on exit both are cleaned up.
init_work() {
	work=$(mktemp -d)
	pids=()
	trap cleanup_work EXIT
}

cleanup_work() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}

# ensure_wrk installs wrk from Debian's packages when it is missing.
ensure_wrk() {
	command -v wrk >/dev/null && return 0
	echo "installing wrk from Debian's packages" >&2
	apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
}

# wait_ok URL [curl args...]: poll until URL answers 2xx (10 s at most).
wait_ok() {
	local url=$1
	shift
	for _ in $(seq 1 200); do
		if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "timed out waiting for $url" >&2
	return 1
}

# to_ms VALUE: wrk latency ("812.00us", "1.20ms", "1.01s") to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n = n / 1000
		else if (v ~ /ms$/) n = n
		else if (v ~ /m$/) n = n * 60000
		else if (v ~ /s$/) n = n * 1000
		printf "%.3f", n }'
}

# post_script writes the wrk Lua script that POSTs 5 bytes to $work/post.lua.
post_script() {
	cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "hello"
wrk.headers["Content-Type"] = "text/plain"
LUA
}

# measure NAME URL: run wrk (after a 2 s warm-up) and record req/s, p50 and
# p99 for NAME in RPS, P50 and P99; non-2xx answers fail the benchmark.
declare -A RPS P50 P99
measure() {
	local name=$1 url=$2 out
	wrk -t"$THREADS" -c"$CONNS" -d2s -s "$work/post.lua" "$url" >/dev/null
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/post.lua" "$url")
	if grep -q "Non-2xx" <<<"$out"; then
		echo "$name: wrk saw non-2xx responses:" >&2
		echo "$out" >&2
		exit 1
	fi
	RPS[$name]=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	P50[$name]=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
	P99[$name]=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
}
