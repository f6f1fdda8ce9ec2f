// Command benchrows reads the raw output of rpkit's benchmark suite (go
// test -bench, any -count) and prints, for each row of
// docs/BENCHMARKS.md, a Markdown table of the medians with the row's
// ratios, its target and whether the target holds, ready to paste.
//
//	go run ./cmd/benchrows results/bench.txt
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// samples holds every value of a benchmark (name without the -GOMAXPROCS
// suffix) by unit.
type samples map[string]map[string][]float64

var procs = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader) (samples, error) {
	s := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procs.ReplaceAllString(f[0], "")
		if s[name] == nil {
			s[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			s[name][f[i+1]] = append(s[name][f[i+1]], v)
		}
	}
	return s, sc.Err()
}

// med is the median of name's unit, NaN when absent.
func (s samples) med(name, unit string) float64 {
	v := slices.Clone(s[name][unit])
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s samples) count(name string) int { return len(s[name]["ns/op"]) }

func num(v float64, unit string) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case unit == "ns/op" && v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case unit == "ns/op" && v >= 1e3:
		return fmt.Sprintf("%.2f µs", v/1e3)
	case unit == "ns/op":
		return fmt.Sprintf("%.0f ns", v)
	case v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f ×", v)
}

// verdict says whether got meets target (≤ when atMost).
func verdict(got, target float64, atMost bool) string {
	switch {
	case math.IsNaN(got):
		return "not measured"
	case atMost && got <= target, !atMost && got >= target:
		return "**holds**"
	case atMost:
		return fmt.Sprintf("**misses** (%.3g, %.0f %% over)", got, (got/target-1)*100)
	default:
		return fmt.Sprintf("**misses** (%.3g, %.0f %% under)", got, (1-got/target)*100)
	}
}

type printer struct {
	s samples
	w io.Writer
}

func (p printer) printf(format string, args ...any) { fmt.Fprintf(p.w, format, args...) }

// table prints the medians of the benchmarks under prefix, one line each.
func (p printer) table(prefix string, subs []string, units []string, extra func(sub string) string, extraHead string) {
	p.printf("| comparison | runs |")
	for _, u := range units {
		p.printf(" %s |", u)
	}
	if extra != nil {
		p.printf(" %s |", extraHead)
	}
	p.printf("\n|---|---|%s", strings.Repeat("---|", len(units)))
	if extra != nil {
		p.printf("---|")
	}
	p.printf("\n")
	for _, sub := range subs {
		name := prefix + sub
		p.printf("| %s | %d |", sub, p.s.count(name))
		for _, u := range units {
			p.printf(" %s |", num(p.s.med(name, u), u))
		}
		if extra != nil {
			p.printf(" %s |", extra(sub))
		}
		p.printf("\n")
	}
	p.printf("\n")
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchrows RAW-OUTPUT")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	s, err := parse(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	p := printer{s, os.Stdout}
	std := []string{"ns/op", "B/op", "allocs/op"}

	// Row 1.
	{
		const b = "BenchmarkVerifyIDToken/impl="
		t := func(i string) float64 { return s.med(b+i, "ns/op") }
		p.printf("### 1. ID-token verification, RS256, warm keys\n\n")
		p.table(b, []string{"rpkit", "go-oidc", "rsa"}, std, func(i string) string { return ratio(t(i) / t("go-oidc")) }, "× go-oidc")
		r := t("rpkit") / t("go-oidc")
		p.printf("rpkit = %s go-oidc Verify, %s a raw RSA-2048 check; %s allocs. Target ≤ 1.10 × go-oidc: %s.\n\n",
			ratio(r), ratio(t("rpkit")/t("rsa")), num(s.med(b+"rpkit", "allocs/op"), ""), verdict(r, 1.10, true))
	}
	// Row 2.
	{
		const b = "BenchmarkRequireAuth/impl="
		t := func(i string) float64 { return s.med(b+i, "ns/op") }
		over := func(i string) float64 { return t(i) - t("bare") }
		p.printf("### 2. Authenticated request through RequireAuth, memory store (in-process)\n\n")
		p.table(b, []string{"bare", "rpkit", "securecookie-floor", "opaque-id", "gorilla-sessions"}, std, func(i string) string {
			if i == "bare" {
				return "—"
			}
			return "+" + num(over(i), "ns/op")
		}, "over bare")
		r := over("rpkit") / over("securecookie-floor")
		allocs := s.med(b+"rpkit", "allocs/op") - s.med(b+"bare", "allocs/op")
		p.printf("rpkit's overhead over bare = %s the securecookie floor's (%s the opaque-ID map's, %s gorilla/sessions'); %s allocs beyond bare (%s in all). "+
			"Target ≤ 0.5 × the securecookie floor: %s; ≤ 10 allocs (beyond bare): %s.\n\n",
			ratio(r), ratio(over("rpkit")/over("opaque-id")), ratio(over("rpkit")/over("gorilla-sessions")),
			num(allocs, ""), num(s.med(b+"rpkit", "allocs/op"), ""), verdict(r, 0.5, true), verdict(allocs, 10, true))
	}
	// Row 3.
	{
		const b = "BenchmarkRequireAuthRedis/impl="
		t := func(i string) float64 { return s.med(b+i, "ns/op") }
		p.printf("### 3. The same request with the Redis store (redis-server on loopback)\n\n")
		p.table(b, []string{"bare", "rpkit", "rpkit-store-get", "go-redis-get"}, std, func(i string) string { return ratio(t(i) / t("go-redis-get")) }, "× one GET")
		r := t("rpkit") / t("go-redis-get")
		p.printf("rpkit's request = %s one GET of the record's size (Store.Get alone: %s). Target ≤ 1.3 × one GET: %s.\n\n",
			ratio(r), ratio(t("rpkit-store-get")/t("go-redis-get")), verdict(r, 1.3, true))
	}
	// Row 4.
	{
		const b = "BenchmarkBackchannelLogout/impl="
		t := func(i string) float64 { return s.med(b+i, "ns/op") }
		p.printf("### 4. Back-channel logout, both cores (RunParallel)\n\n")
		p.table(b, []string{"rpkit", "go-oidc", "rsa"}, std, func(i string) string {
			if math.IsNaN(t(i)) {
				return "n/a"
			}
			return fmt.Sprintf("%.0f /s, %s go-oidc's", 1e9/t(i), ratio(t("go-oidc")/t(i)))
		}, "rate")
		r := t("go-oidc") / t("rpkit")
		p.printf("rpkit's handler runs at %s go-oidc VerifyLogout's rate (%s the raw RSA rate). Target ≥ 0.8 ×: %s.\n\n",
			ratio(r), ratio(t("rsa")/t("rpkit")), verdict(r, 0.8, false))
	}
	// Row 5.
	{
		const b = "BenchmarkMemoryStore/n="
		sizes := []string{"1e3", "1e4", "1e5", "1e6"}
		p.printf("### 5. Memory store at 10³ … 10⁶ sessions\n\n| op |")
		for _, n := range sizes {
			p.printf(" n=%s |", n)
		}
		p.printf(" 10⁶ / 10³ | target |\n|---|%s---|---|\n", strings.Repeat("---|", len(sizes)))
		for _, op := range []string{"Get", "DeleteBySID", "DeleteBySubject"} {
			p.printf("| %s |", op)
			for _, n := range sizes {
				p.printf(" %s, %s allocs |", num(s.med(b+n+"/op="+op, "ns/op"), "ns/op"), num(s.med(b+n+"/op="+op, "allocs/op"), ""))
			}
			r := s.med(b+"1e6/op="+op, "ns/op") / s.med(b+"1e3/op="+op, "ns/op")
			target := "—"
			if op != "Get" {
				target = "≤ 1.5 ×: " + verdict(r, 1.5, true)
			}
			p.printf(" %s | %s |\n", ratio(r), target)
		}
		const w = "BenchmarkMemoryStoreSweep/n="
		for _, m := range []string{"max-wait-ns", "max-op-cpu-ns"} {
			p.printf("| sweep: %s |", m)
			for _, n := range sizes {
				p.printf(" %s |", num(s.med(w+n, m), "ns/op"))
			}
			p.printf(" — | 10⁶ ≤ 1 ms: %s |\n", verdict(s.med(w+"1e6", m)/1e6, 1, true))
		}
		p.printf("\nSweep values are medians over the runs of the longest single Get or Create in each run (wall clock, and the thread's CPU time).\n\n")
	}
	// Row 6.
	{
		p.printf("### 6. Key rotation under load (1000 concurrent verifications of a just-rotated key)\n\n")
		p.printf("| arrival | impl | runs | fetches/rotation | failures/rotation | time for the 1000 | target (exactly 1 fetch, 0 failures) |\n|---|---|---|---|---|---|---|\n")
		for _, a := range []string{"burst", "spread"} {
			for _, i := range []string{"rpkit", "go-oidc"} {
				name := "BenchmarkKeyRotation/arrival=" + a + "/impl=" + i
				fe, fa := s.med(name, "fetches/rotation"), s.med(name, "failures/rotation")
				v := "—"
				if i == "rpkit" {
					switch {
					case math.IsNaN(fe):
						v = "not measured"
					case slices.Max(s[name]["fetches/rotation"]) == 1 && slices.Min(s[name]["fetches/rotation"]) == 1 && slices.Max(s[name]["failures/rotation"]) == 0:
						v = "**holds** (every run)"
					default:
						v = fmt.Sprintf("**misses** (fetches %v, failures %v)", s[name]["fetches/rotation"], s[name]["failures/rotation"])
					}
				}
				p.printf("| %s | %s | %d | %s | %s | %s | %s |\n", a, i, s.count(name), num(fe, ""), num(fa, ""), num(s.med(name, "ns/op"), "ns/op"), v)
			}
		}
		p.printf("\n")
	}
	// Row 6b.
	{
		const b = "BenchmarkRefreshLoad"
		r := s.med(b, "refreshes/token-lifetime")
		p.printf("### 6b. Refresh load (3 s access token, 30 s RefreshLeeway, a request every 100 ms for a simulated minute)\n\n")
		p.printf("| runs | requests | refreshes | refreshes per 3 s token lifetime | target ≤ 1 per lifetime |\n|---|---|---|---|---|\n")
		p.printf("| %d | %s | %s | %s | %s |\n\n", s.count(b), num(s.med(b, "requests/session-minute"), ""),
			num(s.med(b, "refreshes/session-minute"), ""), num(r, ""), verdict(r, 1, true))
	}
	// Row 7.
	{
		const b = "BenchmarkSessionMemory/impl="
		p.printf("### 7. Memory per session\n\n| store | runs | B/session | beyond the tokens | beyond the tokens and the claims |\n|---|---|---|---|---|\n")
		for _, i := range []string{"memory", "redis"} {
			p.printf("| %s | %d | %s | %s | %s |\n", i, s.count(b+i), num(s.med(b+i, "B/session"), ""),
				num(s.med(b+i, "B/session-beyond-tokens"), ""), num(s.med(b+i, "B/session-beyond-tokens+claims"), ""))
		}
		p.printf("\nMemory store, beyond the tokens and their claims: target ≤ 1 KiB: %s (beyond the tokens alone: %s).\n\n",
			verdict(s.med(b+"memory", "B/session-beyond-tokens+claims"), 1024, true), verdict(s.med(b+"memory", "B/session-beyond-tokens"), 1024, true))
	}
}
