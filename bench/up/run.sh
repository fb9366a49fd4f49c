#!/usr/bin/env bash
# `gofaas up` benchmark: after `gofaas server` is up on a fresh data dir,
# `gofaas new hello --lang L` then `gofaas up` then `gofaas invoke hello`
# until it answers. Prints, per language, the seconds from the start of `up`
# to the first successful invoke, then the same after a one-line change
# (second `up`). Baseline in the same run: a bare `go build` of the same
# handler (the compile every Go `up` must pay). Targets: <= 5 s for
# golang-http on a warm Go build cache, <= 1 s for bash-streaming.
#
# Usage: bench/up/run.sh            (from anywhere)
#   LANGS="golang-http bash-streaming" BASE_PORT=19400 bench/up/run.sh
set -euo pipefail

LANGS=${LANGS:-"golang-http bash-streaming"}
BASE_PORT=${BASE_PORT:-19400}

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib.sh
source "$root/bench/lib.sh"
init_work

echo "building gofaas and fwatchdog" >&2
(cd "$root" && go build -o "$work/bin/" ./cmd/gofaas ./cmd/fwatchdog)
gofaas=$work/bin/gofaas

gw=http://127.0.0.1:$BASE_PORT
"$gofaas" server --port "$BASE_PORT" --data-dir "$work/data" >"$work/server.out" 2>"$work/server.log" &
pids+=($!)
wait_ok "$gw/healthz"

export OPENFAAS_URL=$gw OPENFAAS_CONFIG=$work/openfaas
"$gofaas" login -u admin --password-stdin <"$work/data/secrets/basic-auth-password" >/dev/null

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# up_to_invoke NAME: seconds from `gofaas up` to the first 200 of an invoke.
up_to_invoke() {
	local name=$1 start
	start=$(now)
	"$gofaas" up --builder local --filter "$name" >>"$work/up.log" 2>&1
	for _ in $(seq 1 400); do
		if echo ping | "$gofaas" invoke "$name" >/dev/null 2>&1; then
			secs "$start" "$(now)"
			return 0
		fi
		sleep 0.025
	done
	echo "$name never answered; see $work/up.log" >&2
	return 1
}

mkdir -p "$work/project"
cd "$work/project"
printf "%-16s %10s %12s %14s\n" lang "first up" "second up" "go build only"
for lang in $LANGS; do
	name=hello-${lang//[^a-z]/}
	append=()
	[ -f stack.yaml ] && append=(--append stack.yaml)
	"$gofaas" new "$name" --lang "$lang" "${append[@]}" >/dev/null
	first=$(up_to_invoke "$name")
	# A one-line change: append a comment line to the handler.
	handler=$(find "$name" -maxdepth 1 -type f -name 'handler.*' | head -1)
	case $handler in
	*.go) echo "// changed" >>"$handler" ;;
	*) echo "# changed" >>"$handler" ;;
	esac
	second=$(up_to_invoke "$name")
	base=-
	if [ -f "build/$name/go.mod" ]; then
		start=$(now)
		(cd "build/$name" && echo "// again" >>function/$(basename "$handler") &&
			CGO_ENABLED=0 go build -trimpath -buildvcs=false -o /dev/null . )
		base=$(secs "$start" "$(now)")s
	fi
	printf "%-16s %9ss %11ss %13s\n" "$lang" "$first" "$second" "$base"
done
echo "targets: golang-http <= 5 s (warm Go build cache), bash-streaming <= 1 s"
