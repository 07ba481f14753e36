package query

import (
	"context"
	"math"
	"time"

	"github.com/wardops/wardops/model"
)

// probeTail is the fleet's live state, kept by following ping_results: each build reads only
// the rows that landed since the last one and applies them to every device's newest probe, so a
// build costs the probes of the last second, not the whole fleet. Reading every series' newest
// sample from VictoriaMetrics instead costs it a fixed amount per series however short the window
// (about 1 s of CPU per query at 100,000 devices, 85 ms at 875), once per build on the cores that
// answer the readers; VictoriaMetrics is the fallback when this read fails.
//
// It is owned by fleetBuilder.build, which holds buildMu around it.
type probeTail struct {
	cursor time.Time     // the newest probe timestamp read, at most the read's now; zero before the first read
	window time.Duration // the widest window read so far
	live   map[int64]liveState
	// since is when the current outage began, for down devices whose start is known: seen
	// failing after an up probe, or placed by placeOutages. A down device missing here is asked for.
	since map[int64]time.Time
}

func newProbeTail() *probeTail {
	return &probeTail{live: map[int64]liveState{}, since: map[int64]time.Time{}}
}

// read applies the rows that landed since the last read and returns how many it read. On the
// first read, after a gap longer than window (reads failing), and when window grew (a device with
// a longer interval: its newest probe may be older than the last window), it reads the rows of the
// last window instead and forgets every outage start, since an outage may have ended and another
// begun in rows it will never see. Each device keeps its newest probe: a row not newer than the one held
// (read twice across the overlap, or landing late) changes nothing.
func (t *probeTail) read(ctx context.Context, st FleetStore, now time.Time, window time.Duration) (int, error) {
	from := now.Add(-window)
	if c := t.cursor.Add(-model.PingLandingSlack); c.After(from) && window <= t.window {
		from = c
	} else {
		clear(t.since)
	}
	rows, err := st.ProbeStates(ctx, from)
	if err != nil {
		return 0, err
	}
	t.window = max(t.window, window)
	for _, p := range rows {
		t.apply(p)
	}
	// A collector whose clock runs ahead must not move the cursor past the others' rows.
	if t.cursor.After(now) {
		t.cursor = now
	}
	return len(rows), nil
}

func (t *probeTail) apply(p model.ProbeState) {
	if p.Timestamp.After(t.cursor) {
		t.cursor = p.Timestamp
	}
	cur, known := t.live[p.DeviceID]
	if known && !p.Timestamp.After(cur.At) {
		return
	}
	at := p.Timestamp.UTC()
	loss := p.Loss
	st := liveState{Up: p.Up, At: at, LossRatio: &loss}
	if !math.IsNaN(p.RTTMs) {
		rtt := p.RTTMs
		st.RTTms = &rtt
	}
	switch {
	case p.Up:
		delete(t.since, p.DeviceID)
	case known && cur.Up:
		// The first failure after an up probe: the outage starts here.
		t.since[p.DeviceID] = at
	}
	t.live[p.DeviceID] = st
}

// placeOutages reads, in one query, when the current outage began for the down devices whose
// start the tail has not seen (down at the first read, or after a gap), and returns how many it
// asked for. A device DownSince cannot place (no failed row under its current IP) is given the
// failed probe the tail holds when it asks, so it is asked once, not on every build.
func (t *probeTail) placeOutages(ctx context.Context, downSince func(context.Context, []int64) (map[int64]time.Time, error)) (int, error) {
	var ask []int64
	for id, st := range t.live {
		if _, ok := t.since[id]; !ok && !st.Up {
			ask = append(ask, id)
		}
	}
	if len(ask) == 0 {
		return 0, nil
	}
	got, err := downSince(ctx, ask)
	if err != nil {
		return len(ask), err
	}
	for _, id := range ask {
		s, ok := got[id]
		if !ok {
			s = t.live[id].At
		}
		t.since[id] = s
	}
	return len(ask), nil
}

// prune forgets the devices the inventory (by id) no longer lists once their newest probe is older
// than cutoff: deleted devices and devices given a new id. A device probed before the inventory
// read shows it keeps its state until then.
func (t *probeTail) prune(cutoff time.Time, inventory map[int64]int) {
	for id, st := range t.live {
		if _, listed := inventory[id]; !listed && st.At.Before(cutoff) {
			delete(t.live, id)
			delete(t.since, id)
		}
	}
}
