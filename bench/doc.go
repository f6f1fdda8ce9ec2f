// Package bench is rpkit's own benchmark suite: each hot path of rpkit
// measured side by side with the libraries and floors it is compared
// with, one file per row of docs/BENCHMARKS.md. It is a nested module, so
// the compared libraries never enter rpkit's go.mod.
//
// Run it all with bench/run.sh; see docs/BENCHMARKS.md.
package bench
