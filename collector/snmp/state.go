package snmp

import (
	"strconv"
	"sync"
	"time"

	"github.com/wardops/wardops/model"
)

// deviceState is what the poller remembers about a device between polls. The scheduler never
// polls one device twice at once, but the state carries its own lock so that is not assumed.
type deviceState struct {
	mu  sync.Mutex
	key string // address, port, version and user: a change resets the state

	haveUptime   bool
	lastUptime   uint32    // sysUpTime.0 in hundredths of a second
	lastUptimeAt time.Time // when it was read
	bootTime     float64   // Unix seconds; moves only when a reboot is detected
	rebooted     bool      // the current poll detected a reboot

	labels        map[string]map[string]string // label column → index → value
	labelsAt      time.Time
	labelsMissing bool // a table row had no label: refresh early, a new interface may have appeared

	rows map[string]int // column → rows seen in the last walk, to size max-repetitions
	// fallbackWalk marks the fallback columns that stood in for every row last poll, so this
	// poll walks them with the rest instead of GETting them after.
	fallbackWalk map[string]bool
	noBulkUntil  time.Time

	errors   map[string]uint64 // per reason since the collector started
	lastPoll time.Time
}

func stateKey(d model.Device) string {
	return d.IP.String() + "|" + strconv.Itoa(d.SNMP.Port) + "|" + d.SNMP.Version + "|" + d.SNMP.Username
}

func newDeviceState(key string) *deviceState {
	return &deviceState{key: key, rows: map[string]int{}, fallbackWalk: map[string]bool{}, errors: map[string]uint64{}}
}

// ticksPerWrap is where a TimeTicks value rolls over: 2^32 hundredths, about 497 days.
const ticksPerWrap = 1 << 32

// observeUptime records sysUpTime read at `at` and reports whether the device rebooted since the
// last poll: uptime went backwards and the drop is not a TimeTicks wrap (the value we would
// expect by now passed 2^32 and the new one sits near expected−2^32).
func (st *deviceState) observeUptime(ticks uint32, at time.Time) bool {
	boot := float64(at.UnixMilli())/1000 - float64(ticks)/100
	if !st.haveUptime {
		st.haveUptime, st.lastUptime, st.lastUptimeAt, st.bootTime = true, ticks, at, boot
		return false
	}
	rebooted := false
	if ticks < st.lastUptime {
		expected := int64(st.lastUptime) + at.Sub(st.lastUptimeAt).Milliseconds()/10
		const slack = 60 * 100 // a minute of clock drift between agent and collector
		wrapped := expected >= ticksPerWrap && abs(int64(ticks)-(expected-ticksPerWrap)) < slack
		if !wrapped {
			rebooted = true
			st.bootTime = boot
		}
	}
	st.lastUptime, st.lastUptimeAt = ticks, at
	return rebooted
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
