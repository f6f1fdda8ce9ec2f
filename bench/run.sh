#!/usr/bin/env bash
# Runs rpkit's benchmark suite (docs/BENCHMARKS.md): every row's
# comparisons as sub-benchmarks of one Benchmark function, -count runs
# interleaved, each row with its own -benchtime. It starts nothing itself:
# the Redis rows start their own redis-server on a free loopback port.
#
#   bench/run.sh                         # everything, COUNT=6 (~15 min on 2 cores)
#   COUNT=10 BENCH=RequireAuth bench/run.sh
#   PROFILE=1 bench/run.sh               # also CPU and memory profiles of rows 2, 3, 4, 7
#
# Environment:
#   COUNT      runs of each benchmark (default 6)
#   BENCH      regexp choosing rows by Benchmark function name (default: all)
#   BENCHTIME  overrides every row's -benchtime (default: per row, below)
#   OUT        raw output file (default results/bench-<UTC time>.txt)
#   PROFILE=1  after the runs, one profiled run of rows 2, 3, 4 and 7
#
# It prints benchstat tables (-col /impl, or /n for the memory store) and
# then the rows with their ratios and targets in Markdown (cmd/benchrows),
# ready to paste into docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

COUNT=${COUNT:-6}
BENCH=${BENCH:-.}
mkdir -p results
OUT=${OUT:-results/bench-$(date -u +%Y%m%dT%H%M%SZ).txt}
# golang.org/x/perf's newest version served here (see docs/BENCHMARKS.md).
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da

# Benchmark function, -benchtime. The one-shot rows (a scenario per
# iteration, custom metrics) run once per count; BENCH_FULL=1 keeps their
# full sizes, which CI's -benchtime=1x shrinks.
rows=(
	"VerifyIDToken 1s"
	"RequireAuth 1s"
	"RequireAuthRedis 1s"
	"BackchannelLogout 1s"
	"MemoryStore 0.3s"
	"MemoryStoreSweep 1x"
	"KeyRotation 1x"
	"RefreshLoad 1x"
	"SessionMemory 1x"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
go test -c -o "$tmp/bench.test" .

{
	echo "# rpkit bench $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- .. 2>/dev/null || echo '+dirty')"
	echo "# $(go version); nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //')"
	echo "# COUNT=$COUNT BENCH=$BENCH BENCHTIME=${BENCHTIME:-per row}"
} >"$OUT"

start=$SECONDS
for row in "${rows[@]}"; do
	name=${row% *}
	benchtime=${BENCHTIME:-${row#* }}
	[[ Benchmark$name =~ $BENCH ]] || continue
	echo "== Benchmark$name (-benchtime=$benchtime -count=$COUNT)" >&2
	BENCH_FULL=1 "$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$name\$" \
		-test.benchtime="$benchtime" -test.count="$COUNT" -test.benchmem -test.timeout=60m | tee -a "$OUT" |
		grep -E '^(Benchmark|---|FAIL|ok|PASS)' >&2 || { echo "Benchmark$name failed" >&2; exit 1; }
done
echo "raw output: $OUT ($((SECONDS - start)) s)" >&2

stat() { "$tmp/benchstat" "$@" "$OUT"; }
echo
echo "## benchstat"
for row in "${rows[@]}"; do
	name=${row% *}
	[[ Benchmark$name =~ $BENCH ]] || continue
	grep -q "^Benchmark$name/" "$OUT" || grep -q "^Benchmark$name-" "$OUT" || continue
	echo
	echo "### Benchmark$name"
	case $name in
	MemoryStore) stat -filter ".name:$name" -col /n -row /op ;;
	MemoryStoreSweep) stat -filter ".name:$name" -col /n ;;
	KeyRotation) stat -filter ".name:$name" -col /impl -row /arrival ;;
	RefreshLoad) stat -filter ".name:$name" ;;
	*) stat -filter ".name:$name" -col /impl ;;
	esac
done
echo
echo "## rows, ratios and targets"
echo
go run ./cmd/benchrows "$OUT"

if [ "${PROFILE:-}" = 1 ]; then
	prof=${OUT%.txt}-profiles
	mkdir -p "$prof"
	echo "## profiles ($prof)"
	for p in "RequireAuth/impl=rpkit 2s" "RequireAuthRedis/impl=rpkit 2s" "BackchannelLogout/impl=rpkit 2s" "SessionMemory/impl=memory 1x"; do
		bench=${p% *}
		file=${bench//[\/=]/-}
		BENCH_FULL=1 "$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$bench\$" -test.benchtime="${p#* }" -test.benchmem \
			-test.cpuprofile "$prof/$file.cpu" -test.memprofile "$prof/$file.mem" -test.memprofilerate 512 >/dev/null
		echo
		echo "### Benchmark$bench: CPU"
		go tool pprof -top -nodecount=25 "$tmp/bench.test" "$prof/$file.cpu" 2>/dev/null | sed -n '1,35p'
		echo
		echo "### Benchmark$bench: allocated space"
		go tool pprof -top -nodecount=20 -sample_index=alloc_space "$tmp/bench.test" "$prof/$file.mem" 2>/dev/null | sed -n '1,30p'
		echo
		echo "### Benchmark$bench: allocated objects"
		go tool pprof -top -nodecount=20 -sample_index=alloc_objects "$tmp/bench.test" "$prof/$file.mem" 2>/dev/null | sed -n '1,30p'
	done
	cp "$tmp/bench.test" "$prof/bench.test"
fi
