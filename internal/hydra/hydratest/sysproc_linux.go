package hydratest

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel stop Hydra should the test binary die
// without running its cleanups.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
