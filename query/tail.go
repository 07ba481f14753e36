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
// It is owned by fleetBuilder.build, which holds buildMu around it. The zero value is ready: the
// first read is a restart, which makes the maps.
type probeTail struct {
	cursor   time.Time // the newest probe timestamp read, at most the read's now
	lastRead time.Time // the now of the last successful read; zero before the first
	live     map[int64]liveState
	// since is when the current outage began, for down devices whose start is known: read with
	// the device's newest row, seen failing after an up probe, or placed by placeOutages. A down
	// device missing here is asked for.
	since    map[int64]time.Time
	unplaced map[int64]bool // down devices whose outage start is not known yet
}

// maxFollowGap is the longest a tail may go unread and still follow on from its cursor. After a
// longer gap (reads failing) it starts again from every device's newest row: the rows of the gap
// may be many (a collector's replay after a PostgreSQL outage), and may hold outages that began
// and ended unseen.
const maxFollowGap = 2 * time.Minute

// read brings the tail up to date at now and returns how many rows it read. The first read, and
// the first after a gap longer than maxFollowGap, takes every enabled device's newest row with
// the start of its outage (restart); later reads take the rows that landed since, from the cursor
// less the landing slack. Each device keeps its newest probe: a row not newer than the one held
// (read twice across the slack, or landing late) changes nothing.
func (t *probeTail) read(ctx context.Context, st FleetStore, now time.Time) (int, error) {
	if t.lastRead.IsZero() || now.Sub(t.lastRead) > maxFollowGap {
		return t.restart(ctx, st, now)
	}
	rows, err := st.ProbeStates(ctx, t.cursor.Add(-model.PingLandingSlack))
	if err != nil {
		return 0, err
	}
	for _, p := range rows {
		t.apply(p)
	}
	t.settle(now)
	return len(rows), nil
}

// restart replaces the tail with every enabled device's newest row of the last downLookback, in
// one query, whatever each device's ping interval: a device probed hourly still shows its last
// probe. It changes nothing when the read fails.
func (t *probeTail) restart(ctx context.Context, st FleetStore, now time.Time) (int, error) {
	lp, err := st.LatestPings(ctx, now.Add(-downLookback))
	if err != nil {
		return 0, err
	}
	t.live, t.since, t.unplaced = make(map[int64]liveState, len(lp)), map[int64]time.Time{}, map[int64]bool{}
	t.cursor = time.Time{}
	for id, p := range lp {
		loss := p.PacketLoss
		t.live[id] = liveState{Up: p.IsReachable, At: p.Timestamp, RTTms: p.RTTAvgMs, LossRatio: &loss}
		switch {
		case p.IsReachable:
		case p.DownSince != nil:
			t.since[id] = p.DownSince.UTC()
		default:
			t.unplaced[id] = true
		}
		if p.Timestamp.After(t.cursor) {
			t.cursor = p.Timestamp
		}
	}
	t.settle(now)
	return len(lp), nil
}

// settle ends a successful read at now.
func (t *probeTail) settle(now time.Time) {
	// A collector whose clock runs ahead must not move the cursor past the others' rows.
	if t.cursor.After(now) {
		t.cursor = now
	}
	t.lastRead = now
}

func (t *probeTail) apply(p model.ProbeState) {
	if p.Timestamp.After(t.cursor) {
		t.cursor = p.Timestamp
	}
	cur, known := t.live[p.DeviceID]
	if known && !p.Timestamp.After(cur.At) {
		if s, ok := t.since[p.DeviceID]; p.Up && !cur.Up && (!ok || p.Timestamp.After(s)) {
			// An up probe landing late inside the outage held: that outage ended there and
			// the current one began after it, at a failed probe the tail may not have kept.
			delete(t.since, p.DeviceID)
			t.unplaced[p.DeviceID] = true
		}
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
		delete(t.unplaced, p.DeviceID)
	case known && cur.Up:
		// The first failure after an up probe: the outage starts here.
		t.since[p.DeviceID] = at
	case !known:
		// Failing, and nothing held of it before: its outage may have begun long ago.
		t.unplaced[p.DeviceID] = true
	}
	t.live[p.DeviceID] = st
}

// placeOutages reads, in one query, when the current outage began for the down devices first
// seen failing with nothing held of them before (new devices, or enabled since the restart) and
// those whose outage a late up probe split, and returns how many it asked for. A device
// DownSince cannot place (no failed row under its current IP) is given the failed probe the tail
// holds when it asks, so it is asked once, not on every build; after a failed ask all are asked
// again on the next build.
func (t *probeTail) placeOutages(ctx context.Context, downSince func(context.Context, []int64) (map[int64]time.Time, error)) (int, error) {
	if len(t.unplaced) == 0 {
		return 0, nil
	}
	ask := make([]int64, 0, len(t.unplaced))
	for id := range t.unplaced {
		ask = append(ask, id)
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
	clear(t.unplaced)
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
			delete(t.unplaced, id)
		}
	}
}
