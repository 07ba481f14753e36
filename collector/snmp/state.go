package snmp

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardops/wardops/collector/sample"
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
	maxVarbinds  int // the session's varbind bound after the last poll's tooBig answers; 0: default

	errors   map[string]uint64 // per reason since the collector started
	lastPoll time.Time

	// base is the caller's device labels, clipped so nothing appends into it; blocks are the
	// label slices (base + the series' own) of every series the device had, built once and reused
	// while base and the label cache stay the same; names are the items' metric names.
	items       *model.Item // the item list the names and signatures were cached for
	base        sample.Block
	blocks      map[labelKey]sample.Block
	names       map[string]string
	sigs        map[string]string
	lastSamples int // samples of the previous poll, to size the next one's slice
}

// labelKey names one cached label block: a table row of an item label set (kind is the set's
// signature, a the index, b counter_bits), or a status series (kind "reason", "table").
type labelKey struct{ kind, a, b string }

// useItems drops the cached names, signatures and blocks when the device's item list changed
// (an inventory reload hands the poller a new slice).
func (st *deviceState) useItems(items []model.Item) {
	var first *model.Item
	if len(items) > 0 {
		first = &items[0]
	}
	if first != st.items {
		st.items, st.names, st.sigs, st.blocks = first, nil, nil, nil
	}
}

// useBase sets the poll's base labels, dropping the blocks built with different ones.
func (st *deviceState) useBase(base []sample.Label) {
	if st.base.Labels == nil || !slices.Equal(st.base.Labels, base) {
		st.base = sample.NewBlock(slices.Clip(slices.Clone(base)))
		st.blocks = nil
	}
}

// block returns the cached labels for k, building them with build (which appends the series'
// own labels to a copy of base) and rendering their text on first use. The labels are clipped:
// an append by a caller copies instead of writing into the shared block.
func (st *deviceState) block(k labelKey, build func([]sample.Label) []sample.Label) sample.Block {
	if b, ok := st.blocks[k]; ok {
		return b
	}
	if st.blocks == nil {
		st.blocks = map[labelKey]sample.Block{}
	}
	b := sample.NewBlock(slices.Clip(build(append(make([]sample.Label, 0, len(st.base.Labels)+6), st.base.Labels...))))
	st.blocks[k] = b
	return b
}

// metricName is wardops_snmp_<item> (or _info), built once per device and item.
func (st *deviceState) metricName(it model.Item) string {
	key := it.Name
	if it.ValueType == "info" {
		key += "\x00"
	}
	if n, ok := st.names[key]; ok {
		return n
	}
	n := model.MetricSNMPPrefix + it.Name
	if it.ValueType == "info" {
		n += "_info"
	}
	if st.names == nil {
		st.names = map[string]string{}
	}
	st.names[key] = n
	return n
}

// labelSig identifies an item's label columns (name=OID pairs), so items sharing them, as every
// if-mib column does, share their rows' label blocks.
func (st *deviceState) labelSig(it model.Item) string {
	if len(it.Labels) == 0 {
		return "row"
	}
	if s, ok := st.sigs[it.Name]; ok {
		return s
	}
	var b strings.Builder
	b.WriteString("row")
	for _, n := range sortedKeys(it.Labels) {
		b.WriteString("|" + n + "=" + it.Labels[n])
	}
	if st.sigs == nil {
		st.sigs = map[string]string{}
	}
	st.sigs[it.Name] = b.String()
	return st.sigs[it.Name]
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
