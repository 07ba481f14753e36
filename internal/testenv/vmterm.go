package testenv

import (
	"syscall"
	"time"
)

// Terminate stops the process with SIGTERM, as an operator or an orchestrator would, and waits for
// it, killing it after 20 seconds. Unlike Stop (SIGKILL), VictoriaMetrics then flushes what it has
// acknowledged: killed, it loses its last few seconds of accepted samples (those not yet flushed,
// -inmemoryDataFlushInterval), which no client can resend since it was told they were stored.
// Tests that check a client loses nothing across an outage stop the server this way.
func (vm *VM) Terminate() {
	if vm.cmd == nil || vm.cmd.Process == nil {
		return
	}
	_ = vm.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func(cmd interface{ Wait() error }) { _ = cmd.Wait(); close(done) }(vm.cmd)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = vm.cmd.Process.Kill()
		<-done
	}
	vm.cmd = nil
}
