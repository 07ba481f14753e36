package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

func importDev(name, ip, parent string, line int) model.ImportDevice {
	return model.ImportDevice{Line: line, Branch: "b", Region: "r", Name: name, IP: ip, Enabled: true, SNMPPort: 161, Parent: parent}
}

// importNodes imports devs and returns the devices as alerting reads them, and their ids by name.
func importNodes(t *testing.T, st *store.Store, devs ...model.ImportDevice) ([]model.DeviceNode, map[string]int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.ImportInventory(ctx, nil, devs, false); err != nil {
		t.Fatal(err)
	}
	nodes, err := st.AlertDevices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, n := range nodes {
		ids[n.Name] = n.ID
	}
	return nodes, ids
}

// TestDeviceParents: the import's parent column takes several parents separated by ";", keeps
// the first in parent_device_id, refuses a cycle naming its lines (counting parents already in
// the database), and the API's check refuses one too.
func TestDeviceParents(t *testing.T) {
	st, _ := testenv.Store(t)
	ctx := context.Background()
	devs := []model.ImportDevice{importDev("wan-a", "127.26.0.1", "", 2), importDev("wan-b", "127.26.0.2", "", 3),
		importDev("sw", "127.26.0.3", "wan-a; wan-b", 4)}
	nodes, ids := importNodes(t, st, devs...)
	for _, n := range nodes {
		if n.Name == "sw" && (len(n.Parents) != 2 || n.Parents[0] != ids["wan-a"] || n.Parents[1] != ids["wan-b"]) {
			t.Fatalf("sw parents %v, want wan-a and wan-b", n.Parents)
		}
	}
	d, err := st.GetDevice(ctx, ids["sw"])
	if err != nil || d.ParentID == nil || *d.ParentID != ids["wan-a"] {
		t.Fatalf("parent_device_id of sw: %v %v", d.ParentID, err)
	}
	// wan-a under sw closes a cycle through a parent already stored.
	_, err = st.ImportInventory(ctx, nil, []model.ImportDevice{importDev("wan-a", "127.26.0.1", "sw", 7)}, false)
	var le *model.LinesError
	if !errors.As(err, &le) || len(le.Lines) == 0 || le.Lines[0].Line != 7 {
		t.Fatalf("cycle import: %v", err)
	}
	if err := st.CheckParents(ctx, ids["wan-b"], []int64{ids["sw"]}); !errors.Is(err, model.ErrParentCycle) {
		t.Fatalf("CheckParents: %v, want a cycle", err)
	}
	if err := st.SetDeviceParents(ctx, ids["wan-b"], []int64{ids["sw"]}); !errors.Is(err, model.ErrParentCycle) {
		t.Fatalf("SetDeviceParents: %v, want a cycle", err)
	}
	var re *model.RefError
	if err := st.CheckParents(ctx, ids["sw"], []int64{999999}); !errors.As(err, &re) {
		t.Fatalf("unknown parent: %v", err)
	}
	// Re-importing with one parent drops the other.
	if _, err := st.ImportInventory(ctx, nil, []model.ImportDevice{importDev("sw", "127.26.0.3", "wan-b", 2)}, false); err != nil {
		t.Fatal(err)
	}
	nodes, _ = st.AlertDevices(ctx)
	for _, n := range nodes {
		if n.Name == "sw" && (len(n.Parents) != 1 || n.Parents[0] != ids["wan-b"]) {
			t.Fatalf("sw parents after re-import %v, want wan-b", n.Parents)
		}
	}
}

// TestLeadership: one holder at a time; a commit by a lost leadership is refused; closing the
// holder frees the lock at once.
func TestLeadership(t *testing.T) {
	st, _ := testenv.Store(t)
	ctx := context.Background()
	a, err := st.TryLeadership(ctx, time.Second)
	if err != nil || a == nil {
		t.Fatalf("first: %v %v", a, err)
	}
	b, err := st.TryLeadership(ctx, time.Second)
	if err != nil || b != nil {
		t.Fatalf("second while held: %v %v", b, err)
	}
	now := time.Now()
	if err := st.CommitCycle(ctx, a, nil, &store.CycleChange{Cursor: &now}); err != nil {
		t.Fatalf("leader commit: %v", err)
	}
	a.Release()
	<-a.Lost()
	if err := st.CommitCycle(ctx, a, nil, &store.CycleChange{Cursor: &now}); !errors.Is(err, store.ErrNotLeader) {
		t.Fatalf("commit after release: %v, want ErrNotLeader", err)
	}
	b, err = st.TryLeadership(ctx, time.Second)
	if err != nil || b == nil {
		t.Fatalf("after release: %v %v", b, err)
	}
	b.Release()
}
