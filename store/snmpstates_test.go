package store_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestSNMPStates: snmp_states keeps each device's newest poll. An older poll (two collectors
// during a hand-over) changes nothing; a poll that does not move the last success, the last
// reboot or the interfaces keeps the stored ones; a reader gets only what was written after its
// cursor, and the interfaces only where they changed and it does not hold them; a deleted device's
// poll is dropped, not an error.
func TestSNMPStates(t *testing.T) {
	st, _ := testenv.Store(t)
	ctx := context.Background()
	_, ids := importNodes(t, st, importDev("r1", "127.26.1.1", "", 2), importDev("r2", "127.26.1.2", "", 3))
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ifs := []model.InterfaceState{{Labels: map[string]string{"index": "1", "ifName": "wan0"}, Oper: 1, Admin: 1},
		{Labels: map[string]string{"index": "2", "ifName": "lan0"}, Oper: 2, Admin: 1}}
	write := func(ss ...model.SNMPState) {
		t.Helper()
		if err := st.UpsertSNMPStates(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	read := func(since time.Time, has func(int64, time.Time) bool) (map[int64]model.SNMPState, time.Time) {
		t.Helper()
		ss, newest, err := st.SNMPStates(ctx, since, has)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]model.SNMPState{}
		for _, s := range ss {
			out[s.DeviceID] = s
		}
		return out, newest
	}
	write(model.SNMPState{DeviceID: ids["r1"], PolledAt: at(0), Up: true, LastOK: at(0), RebootedAt: at(0), InterfacesAt: at(0),
		Interfaces: ifs, ErrorRates: []float64{math.NaN(), 2.5}},
		model.SNMPState{DeviceID: ids["r2"], PolledAt: at(0), Up: true, LastOK: at(0), InterfacesAt: at(0), Interfaces: ifs[:1],
			ErrorRates: []float64{0}},
		model.SNMPState{DeviceID: 999999, PolledAt: at(0), Up: true}) // deleted meanwhile
	got, cursor := read(time.Time{}, nil)
	r1 := got[ids["r1"]]
	if len(got) != 2 || !r1.InterfacesRead || len(r1.Interfaces) != 2 || r1.Interfaces[1].Oper != 2 ||
		!math.IsNaN(r1.ErrorRates[0]) || r1.ErrorRates[1] != 2.5 || !r1.RebootedAt.Equal(at(0)) || cursor.IsZero() {
		t.Fatalf("first read %+v (cursor %v)", got, cursor)
	}
	// r1's agent stops answering: a failed poll that read no interfaces; then an older poll from
	// another collector lands late.
	write(model.SNMPState{DeviceID: ids["r1"], PolledAt: at(30), Up: false})
	write(model.SNMPState{DeviceID: ids["r1"], PolledAt: at(20), Up: true, LastOK: at(20), InterfacesAt: at(20)})
	got, cursor2 := read(cursor, nil)
	r1 = got[ids["r1"]]
	if len(got) != 1 || r1.Up || !r1.PolledAt.Equal(at(30)) || !r1.LastOK.Equal(at(0)) || !r1.RebootedAt.Equal(at(0)) ||
		!r1.InterfacesAt.Equal(at(0)) || r1.InterfacesRead || len(r1.ErrorRates) != 2 || !cursor2.After(cursor) {
		t.Fatalf("after a failed poll and a late older one: %+v", got)
	}
	// r2's interfaces change; r1 answers again with the same interfaces and new rates. A
	// reader holding r2's old version gets r2's new one, and not r1's unchanged one.
	write(model.SNMPState{DeviceID: ids["r2"], PolledAt: at(40), Up: true, LastOK: at(40), InterfacesAt: at(40), Interfaces: ifs,
		ErrorRates: []float64{0, 0}},
		model.SNMPState{DeviceID: ids["r1"], PolledAt: at(40), Up: true, LastOK: at(40), InterfacesAt: at(40), Interfaces: ifs,
			ErrorRates: []float64{1, 3}})
	held := map[int64]time.Time{}
	for id, s := range got {
		held[id] = s.InterfacesChanged
	}
	all, _ := read(time.Time{}, nil)
	held[ids["r1"]] = all[ids["r1"]].InterfacesChanged
	got, _ = read(cursor2.Add(-time.Hour), func(id int64, changed time.Time) bool { return held[id].Equal(changed) })
	if r1, r2 := got[ids["r1"]], got[ids["r2"]]; r1.InterfacesRead || r1.ErrorRates[1] != 3 || !r1.LastOK.Equal(at(40)) ||
		!r2.InterfacesRead || len(r2.Interfaces) != 2 {
		t.Fatalf("after r2's interfaces changed: %+v", got)
	}
}
