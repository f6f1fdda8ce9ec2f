#!/usr/bin/env bash
# Runs rpkit's benchmark suite (docs/BENCHMARKS.md): every row's
# comparisons as sub-benchmarks of one Benchmark function, COUNT rounds
# interleaved, each row with its own -benchtime. It starts nothing itself:
# the Redis rows start their own redis-server on a free loopback port.
#
#   bench/run.sh                         # everything, COUNT=6 (~15 min on 2 cores)
#   COUNT=10 BENCH=RequireAuth bench/run.sh
#   PROFILE=1 bench/run.sh               # also CPU and memory profiles of rows 2, 3, 4, 7
#
# Environment:
#   COUNT      rounds: runs of each benchmark (default 6)
#   BENCH      regexp choosing rows by Benchmark function name (default: all)
#   BENCHTIME  overrides every row's -benchtime (default: per row, below)
#   OUT        raw output file (default results/bench-<UTC time>.txt)
#   PROFILE=1  after the runs, profiled runs of rows 2, 3, 4 and 7 (COUNT=0
#              PROFILE=1: the profiles alone)
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

# bench NAME BENCHTIME COUNT LABEL runs one row.
bench() {
	echo "== $4Benchmark$1 (-benchtime=$2 -count=$3) at $((SECONDS - start)) s" >&2
	BENCH_FULL=1 "$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$1\$" \
		-test.benchtime="$2" -test.count="$3" -test.benchmem -test.timeout=60m | tee -a "$OUT" |
		grep -E '^(Benchmark|--- |FAIL)' >&2 || { echo "Benchmark$1 failed" >&2; exit 1; }
}
# -count runs each sub-benchmark COUNT times in a row: the rows whose
# comparisons are between implementations run instead in COUNT rounds of
# -count=1, which interleaves them, so that a change in the host's load
# falls on all of them alike. The memory store's rows compare sizes of one
# store, whose 10^6 sessions take long to create: they run with -count
# (populated once per size).
start=$SECONDS
for round in $(seq "$COUNT"); do
	for row in "${rows[@]}"; do
		name=${row% *}
		[[ Benchmark$name =~ $BENCH ]] || continue
		case $name in MemoryStore | MemoryStoreSweep) continue ;; esac
		bench "$name" "${BENCHTIME:-${row#* }}" 1 "round $round/$COUNT: "
	done
done
for row in "${rows[@]}"; do
	name=${row% *}
	[[ Benchmark$name =~ $BENCH ]] || continue
	case $name in MemoryStore | MemoryStoreSweep) [ "$COUNT" -gt 0 ] && bench "$name" "${BENCHTIME:-${row#* }}" "$COUNT" "" ;; esac
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
	echo
	echo "## profiles ($prof)"
	# CPU and memory in separate runs: the memory profiler's stack walks
	# would otherwise show up in the CPU profile.
	for p in "RequireAuth impl=rpkit 2s" "RequireAuthRedis impl=rpkit 2s" "BackchannelLogout impl=rpkit 2s" "SessionMemory impl=memory 1x"; do
		read -r name sub benchtime <<<"$p"
		file=$name-${sub//=/-}
		run() { BENCH_FULL=1 "$tmp/bench.test" -test.run '^$' -test.bench "^Benchmark$name\$/^$sub\$" -test.benchtime="$benchtime" -test.benchmem "$@" >/dev/null; }
		run -test.cpuprofile "$prof/$file.cpu"
		indexes="alloc_space alloc_objects"
		if [ "$name" = SessionMemory ]; then
			# What the store's sessions hold, taken while they are alive.
			BENCH_HEAPPROFILE="$prof/$file.mem" run -test.memprofilerate 512
			indexes="inuse_space inuse_objects"
		else
			run -test.memprofile "$prof/$file.mem" -test.memprofilerate 4096
		fi
		echo
		echo "### Benchmark$name/$sub: CPU"
		go tool pprof -top -nodecount=25 "$tmp/bench.test" "$prof/$file.cpu" 2>/dev/null | sed -n '6,40p'
		for index in $indexes; do
			echo
			echo "### Benchmark$name/$sub: $index"
			go tool pprof -top -nodecount=15 -sample_index=$index "$tmp/bench.test" "$prof/$file.mem" 2>/dev/null | sed -n '6,30p'
		done
	done
	cp "$tmp/bench.test" "$prof/bench.test"
	echo
	echo "profiles and the test binary: $prof (go tool pprof $prof/bench.test $prof/<file>)"
fi
