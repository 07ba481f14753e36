package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestMaintenanceCommand runs `wardops maintenance` as cron would, as its own process, with the
// machine's time zone set to one whose daylight-saving time began ten days ago, and checks that it
// removes exactly the rows older than WARDOPS_RETENTION_DAYS × 24 hours, none newer, and drops
// exactly the partitions that end before that cutoff. Counting the days in local time (30
// calendar days back from local now) would put the cutoff an hour late and delete an hour of rows
// a bank must keep.
func TestMaintenanceCommand(t *testing.T) {
	st, dbURL := testenv.Store(t)
	ctx := context.Background()
	ip := netip.MustParseAddr("127.20.163.1")
	if _, err := st.ImportInventory(ctx, nil, []model.ImportDevice{{Line: 2, Branch: "b1", Name: "kept", IP: ip.String(), Enabled: true, SNMPPort: 161}}, false); err != nil {
		t.Fatal(err)
	}
	const days = 30
	t0 := time.Now().UTC()
	tz, loc := zoneWithDSTSince(t, t0.Add(-10*24*time.Hour).Truncate(time.Hour))
	if _, off0 := t0.In(loc).Zone(); off0 != 3600 {
		t.Fatalf("test zone offset now %d s, want 3600", off0)
	}
	if _, off30 := t0.Add(-days * 24 * time.Hour).In(loc).Zone(); off30 != 0 {
		t.Fatalf("test zone offset %d days ago %d s, want 0", days, off30)
	}

	cutoff := t0.Add(-days * 24 * time.Hour)
	var rows []model.PingResult
	for _, at := range []time.Time{
		cutoff.Add(-24*time.Hour - time.Minute), cutoff.Add(-time.Minute), // older: must go
		cutoff.Add(time.Minute), cutoff.Add(59 * time.Minute), cutoff.Add(24 * time.Hour), t0.Add(-time.Hour), // newer: must stay
	} {
		rows = append(rows, model.PingResult{DeviceID: 1, DeviceIP: ip, Timestamp: at.Truncate(time.Millisecond), IsReachable: true, Sent: 3, Received: 3})
	}
	if err := st.InsertPingResults(ctx, rows); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "maintenance")
	cmd.Env = append(os.Environ(), "WARDOPS_TEST_MAIN=1", "WARDOPS_DATABASE_URL="+dbURL,
		fmt.Sprintf("WARDOPS_RETENTION_DAYS=%d", days), "TZ="+tz)
	out, err := cmd.CombinedOutput()
	t1 := time.Now().UTC()
	if err != nil {
		t.Fatalf("wardops maintenance: %v\n%s", err, out)
	}
	if t1.Sub(t0) >= time.Minute {
		t.Fatalf("maintenance ran %s after the rows were placed; the one-minute margins no longer hold", t1.Sub(t0))
	}

	left, err := st.PingHistory(ctx, ip, cutoff.Add(-72*time.Hour), t1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, r := range left {
		got = append(got, r.Timestamp.Format(time.RFC3339Nano))
	}
	for _, r := range rows[2:] {
		want = append(want, r.Timestamp.UTC().Format(time.RFC3339Nano))
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows left after maintenance (cutoff %s):\n  %v\nwant\n  %v", cutoff.Format(time.RFC3339), got, want)
	}

	// The command names what it dropped: every daily partition from the oldest row's day that ends
	// by the cutoff, which lies between t0 and t1 less the retention.
	line := strings.TrimSpace(string(out))
	i, j := strings.LastIndex(line, "["), strings.LastIndex(line, "]")
	if i < 0 || j < i || !strings.Contains(line, fmt.Sprintf("past %d days", days)) {
		t.Fatalf("maintenance output %q, want the dropped partitions listed", line)
	}
	dropped := strings.Fields(line[i+1 : j])
	wantDropped := func(cut time.Time) []string {
		var names []string
		for d := rows[0].Timestamp.UTC().Truncate(24 * time.Hour); !d.Add(24 * time.Hour).After(cut); d = d.Add(24 * time.Hour) {
			names = append(names, "ping_results_"+d.Format("20060102"))
		}
		return names
	}
	w0, w1 := wantDropped(cutoff), wantDropped(t1.Add(-days*24*time.Hour))
	if !slices.Equal(dropped, w0) && !slices.Equal(dropped, w1) {
		t.Errorf("dropped %v, want %v", dropped, w0)
	}
}

// zoneWithDSTSince compiles, with zic, a time zone at UTC that switched to daylight-saving time
// (UTC+1) at since, and returns the path TZ takes and the zone itself.
func zoneWithDSTSince(t *testing.T, since time.Time) (string, *time.Location) {
	t.Helper()
	zic := testenv.LookBinary(t, "zic", "libc-bin")
	dir := t.TempDir()
	src := filepath.Join(dir, "zone.zi")
	rule := fmt.Sprintf("Zone\tWardops/Test\t0:00\t-\tWST\t%s\n\t\t\t0:00\t1:00\tWDST\n", since.UTC().Format("2006 Jan 2 15:04u"))
	if err := os.WriteFile(src, []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(zic, "-d", filepath.Join(dir, "zoneinfo"), src).CombinedOutput(); err != nil {
		t.Fatalf("zic: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "zoneinfo", "Wardops", "Test")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocationFromTZData("Wardops/Test", data)
	if err != nil {
		t.Fatal(err)
	}
	return path, loc
}
