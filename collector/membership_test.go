package collector

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/model"
)

// cutOffStore answers heartbeats with a fixed group until cut, then fails them as a collector
// whose network to PostgreSQL is gone would see. A fake: a real server cannot be made reachable
// from one collector and not another inside one test process; TestThreeCollectorsOneKilled runs
// the real group on a real database.
type cutOffStore struct {
	mu      sync.Mutex
	members []model.Collector
	cut     bool
}

func (s *cutOffStore) Heartbeat(context.Context, string, string, time.Duration) ([]model.Collector, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cut {
		return nil, errors.New("connection refused")
	}
	return s.members, nil
}

func (s *cutOffStore) LeaveCollectors(context.Context, string) error { return nil }

// TestLeaseLapse: cut off from PostgreSQL, a collector of a group gives up its share once its
// lease has run out (the others have taken it over by then), while a collector that was alone
// keeps probing everything.
func TestLeaseLapse(t *testing.T) {
	fleet := &model.Fleet{Items: map[int64][]model.Item{}}
	for id := int64(1); id <= 60; id++ {
		fleet.Devices = append(fleet.Devices, model.Device{DeviceSummary: model.DeviceSummary{ID: id, Enabled: true}})
	}
	tests := []struct {
		name            string
		group           []string
		wantBefore      int // devices owned while the lease holds
		wantAfterLapsed bool
	}{
		{"in a group", []string{"a", "b", "c"}, -1, false},
		{"alone", []string{"a"}, 60, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &cutOffStore{}
			for _, id := range tc.group {
				st.members = append(st.members, model.Collector{ID: id})
			}
			const lease = 300 * time.Millisecond
			m, err := NewMembership(MembershipOptions{Store: st, ID: "a", Lease: lease, Log: quietLog(), Metrics: metrics.NewSet()})
			if err != nil {
				t.Fatal(err)
			}
			m.Join(context.Background())
			want := 0
			for _, d := range fleet.Devices {
				if model.Owner(st.members, d.ID, "") == "a" {
					want++
				}
			}
			if got := len(m.filter(fleet).Devices); got != want || (tc.wantBefore >= 0 && got != tc.wantBefore) {
				t.Fatalf("owned %d devices with the lease valid, want %d", got, want)
			}
			st.mu.Lock()
			st.cut = true
			st.mu.Unlock()
			m.beat(context.Background())
			time.Sleep(lease + 50*time.Millisecond)
			m.beat(context.Background())
			got := len(m.filter(fleet).Devices)
			if tc.wantAfterLapsed && got != want {
				t.Fatalf("alone and cut off: owns %d, want %d (nobody else can probe them)", got, want)
			}
			if !tc.wantAfterLapsed && got != 0 {
				t.Fatalf("in a group and cut off past the lease: still owns %d devices", got)
			}
			select {
			case <-m.Changed():
			default:
				if !tc.wantAfterLapsed {
					t.Fatal("the lapse did not wake the scheduler")
				}
			}
		})
	}
}

// hangingFleet is a fleet whose loads hang until their context ends, as they do on a PostgreSQL
// connection whose packets are dropped (no reset reaches the client). A fake, to hold a load in
// flight at the moment the lease lapses; TestCollectorCutFromPostgres cuts a real connection.
type hangingFleet struct{}

func (h hangingFleet) LoadFleet(ctx context.Context) (*model.Fleet, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (h hangingFleet) FleetVersion(ctx context.Context) (string, error) {
	<-ctx.Done()
	return "", ctx.Err()
}

// TestLeaseLapseEndsAStuckLoad: a fleet load that hangs when the network goes silent ends when
// the lease lapses, with no device owned, instead of holding the scheduler (and the old share)
// until TCP gives up minutes later.
func TestLeaseLapseEndsAStuckLoad(t *testing.T) {
	st := &cutOffStore{members: []model.Collector{{ID: "a"}, {ID: "b"}}}
	const lease = 300 * time.Millisecond
	m, err := NewMembership(MembershipOptions{Store: st, ID: "a", Lease: lease, Log: quietLog(), Metrics: metrics.NewSet()})
	if err != nil {
		t.Fatal(err)
	}
	m.Join(context.Background())
	st.mu.Lock()
	st.cut = true
	st.mu.Unlock()
	of := ownedFleet{inner: hangingFleet{}, m: m}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // the heartbeat loop, stopped below
		defer close(done)
		_ = m.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	start := time.Now()
	if _, err := of.FleetVersion(context.Background()); err == nil {
		t.Fatal("a version from a load that never answered")
	}
	f, err := of.LoadFleet(context.Background())
	took := time.Since(start)
	if err != nil || len(f.Devices) != 0 {
		t.Fatalf("after the lapse: %v devices, err %v; want none and no error", f, err)
	}
	// The lapse is seen at the first heartbeat after it: at most a third of a lease late.
	if took > lease+lease/3+100*time.Millisecond {
		t.Fatalf("the stuck load ended %s after the cut, lease %s", took, lease)
	}
	if v, err := of.FleetVersion(context.Background()); err != nil || v != "|lapsed" {
		t.Fatalf("lapsed version %q, %v: want %q at once, without PostgreSQL", v, err, "|lapsed")
	}
}

// countingFleet counts whole-inventory reads under a version the test moves. A stand-in: the
// test is about how often the inventory is read, which a real store would not count for us.
type countingFleet struct {
	version string
	loads   int
}

func (c *countingFleet) LoadFleet(context.Context) (*model.Fleet, error) {
	c.loads++
	return &model.Fleet{Devices: []model.Device{{DeviceSummary: model.DeviceSummary{ID: 1}}}, Items: map[int64][]model.Item{}}, nil
}

func (c *countingFleet) FleetVersion(context.Context) (string, error) { return c.version, nil }

// TestGroupChangeReusesTheInventory: when only the collector group changed, the survivors narrow
// the inventory they already read instead of reading it again; an inventory change reads it.
func TestGroupChangeReusesTheInventory(t *testing.T) {
	st := &cutOffStore{members: []model.Collector{{ID: "a"}}}
	m, err := NewMembership(MembershipOptions{Store: st, ID: "a", Lease: time.Minute, Log: quietLog(), Metrics: metrics.NewSet()})
	if err != nil {
		t.Fatal(err)
	}
	m.Join(context.Background())
	inner := &countingFleet{version: "v1"}
	of := newOwnedFleet(inner, m)
	for _, tc := range []struct {
		version string
		want    int
	}{{"v1", 1}, {"v1", 1}, {"v2", 2}, {"v2", 2}} {
		inner.version = tc.version
		f, err := of.LoadFleet(context.Background())
		if err != nil || len(f.Devices) != 1 {
			t.Fatalf("load at %s: %v, %v", tc.version, f, err)
		}
		if inner.loads != tc.want {
			t.Fatalf("at version %s: %d inventory reads, want %d", tc.version, inner.loads, tc.want)
		}
	}
}
