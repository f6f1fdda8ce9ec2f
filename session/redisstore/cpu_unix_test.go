//go:build unix

package redisstore_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) this process has used: on
// a loaded host, the client's cost per operation, which wall time blurs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
