package alerting

import "math/bits"

// historyLen is how many probe states flapping looks at, as Nagios and Icinga do.
const historyLen = 21

// settleProbes is how many consecutive failed probes a device that changed state within its
// history needs before its down alert pages: a second failure soon after a recovery is held that
// long, so a device that starts to flap pages once as flapping rather than once per bounce.
const settleProbes = 3

// pushState adds the newest state (down = true) to a history, newest in bit 0.
func pushState(h uint64, n int, down bool) (uint64, int) {
	h <<= 1
	if down {
		h |= 1
	}
	h &= 1<<historyLen - 1
	if n < historyLen {
		n++
	}
	return h, n
}

// percentStateChange is the Nagios/Icinga weighted percent state change of a history: each of the
// 20 transitions between 21 states weighs from 0.8 (oldest) to 1.2 (newest), and the sum is
// taken over 20 so a history of all changes scores 100.
func percentStateChange(h uint64, n int) float64 {
	if n < 2 {
		return 0
	}
	var sum float64
	// Transition j joins states j and j+1 (bit j+1 older); j = 0 is the newest.
	for j := 0; j < n-1; j++ {
		if (h>>j)&1 != (h>>(j+1))&1 {
			sum += 0.8 + 0.4*float64(historyLen-2-j)/float64(historyLen-2)
		}
	}
	return sum * 100 / float64(historyLen-1)
}

// downRun is how many of the newest states are down in a row.
func downRun(h uint64, n int) int {
	r := bits.TrailingZeros64(^h)
	if r > n {
		return n
	}
	return r
}

// unsettled reports whether a device now down had another failure earlier in its history and
// has not been down settleProbes probes in a row yet.
func unsettled(h uint64, n int) bool {
	run := downRun(h, n)
	if run >= settleProbes {
		return false
	}
	older := h >> run
	older &= 1<<(n-run) - 1
	return older != 0
}
