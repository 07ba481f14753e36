package store_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestInventoryVersionMovesOnEveryWrite: every kind of write to devices or branches moves the
// fingerprint, reads and probe rows do not, and a change is seen exactly when it commits.
func TestInventoryVersionMovesOnEveryWrite(t *testing.T) {
	s, dbURL := testenv.Store(t)
	ctx := context.Background()
	b, err := s.CreateBranch(ctx, "v-branch", "v-region")
	if err != nil {
		t.Fatal(err)
	}
	in := model.DeviceChange{Name: "v-1", IP: netip.MustParseAddr("127.20.200.1"), Vendor: "v", DeviceType: "router",
		BranchID: b.ID, Enabled: true, SNMPPort: 161}
	var id, parent int64
	steps := []struct {
		name  string
		do    func() error
		moves bool
	}{
		{"create device", func() (err error) { id, err = s.CreateDevice(ctx, in); return err }, true},
		{"list devices", func() error { _, err := s.ListDeviceSummaries(ctx); return err }, false},
		{"insert ping results", func() error {
			return s.InsertPingResults(ctx, []model.PingResult{{DeviceID: id, DeviceIP: in.IP, Timestamp: time.Now(), Sent: 1}})
		}, false},
		{"update device", func() error { in.Name = "v-1b"; return s.UpdateDevice(ctx, id, in) }, true},
		{"disable device", func() error { return s.SetDeviceEnabled(ctx, id, false) }, true},
		{"import", func() error {
			_, err := s.ImportInventory(ctx, nil, []model.ImportDevice{{Line: 2, Branch: "v-branch", Name: "v-2",
				IP: "127.20.200.2", Enabled: true, SNMPPort: 161}}, false)
			return err
		}, true},
		{"set parents", func() error {
			devs, err := s.ListDeviceSummaries(ctx)
			for _, d := range devs {
				if d.Name == "v-2" {
					parent = d.ID
				}
			}
			if err != nil {
				return err
			}
			return s.SetDeviceParents(ctx, id, []int64{parent})
		}, true},
		{"rename branch", func() error { _, err := s.UpdateBranch(ctx, b.ID, "v-branch-2", "v-region"); return err }, true},
		{"delete device", func() error { return s.DeleteDevice(ctx, id) }, true},
	}
	for _, st := range steps {
		before, err := s.InventoryVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		after, err := s.InventoryVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if moved := after != before; moved != st.moves {
			t.Errorf("%s: version %d -> %d, want moved=%t", st.name, before, after, st.moves)
		}
	}

	// A change not yet committed is not seen; it is once committed.
	tx := openTx(t, dbURL)
	before, _ := s.InventoryVersion(ctx)
	if _, err := tx.Exec(ctx, `UPDATE branches SET region = 'v-region-2' WHERE id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.InventoryVersion(ctx); v != before {
		t.Errorf("an uncommitted change moved the version %d -> %d", before, v)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.InventoryVersion(ctx); v == before {
		t.Errorf("a committed change did not move the version (%d)", v)
	}
}

// TestInventoryWritersDoNotDeadlock: an import-like transaction that writes branches and then a
// device, against a single-statement update of that device arriving in between. The fingerprint
// triggers take the counter before any row lock, so the update waits for the transaction instead
// of holding the device row it will want: both commit, neither is aborted as a deadlock.
func TestInventoryWritersDoNotDeadlock(t *testing.T) {
	s, dbURL := testenv.Store(t)
	ctx := context.Background()
	b, err := s.CreateBranch(ctx, "d-branch", "d-region")
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.CreateDevice(ctx, model.DeviceChange{Name: "d-1", IP: netip.MustParseAddr("127.20.201.1"), Vendor: "v",
		DeviceType: "router", BranchID: b.ID, Enabled: true, SNMPPort: 161})
	if err != nil {
		t.Fatal(err)
	}
	tx := openTx(t, dbURL)
	if _, err := tx.Exec(ctx, `INSERT INTO branches (name, region) VALUES ('d-branch-2', 'd-region')`); err != nil {
		t.Fatal(err)
	}
	other := make(chan error, 1)
	go func() { other <- s.SetDeviceEnabled(ctx, id, false) }()
	time.Sleep(300 * time.Millisecond) // the update is now waiting on the counter
	if _, err := tx.Exec(ctx, `UPDATE standalone_devices SET vendor = 'w' WHERE id = $1`, id); err != nil {
		t.Fatalf("the transaction's device update: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	select {
	case err := <-other:
		if err != nil {
			t.Fatalf("the concurrent update: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the concurrent update never finished")
	}
}

// openTx begins a transaction on a connection of its own, rolled back (if still open) and closed
// when the test ends.
func openTx(t *testing.T, dbURL string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	return tx
}
