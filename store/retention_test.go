package store_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
	"github.com/wardops/wardops/model"
)

// TestRetentionBoundary puts rows one minute (and one millisecond) either side of a retention
// cutoff, at the first and last moments of the UTC day that holds it and of its neighbours, and
// checks that DropPingPartitionsBefore removes exactly the rows older than the cutoff: a bank that
// must keep 30 days loses no row newer than the cutoff, and keeps none older. Cutoffs sit at the
// start and end of a partition day and around daylight-saving changes in a zone of their own,
// where the local day and the UTC partition day differ.
func TestRetentionBoundary(t *testing.T) {
	s, _ := testenv.Store(t)
	ctx := context.Background()
	ip := netip.MustParseAddr("127.20.162.1")
	if _, err := s.ImportInventory(ctx, nil, []model.ImportDevice{{Line: 2, Branch: "b1", Name: "kept", IP: ip.String(), Enabled: true, SNMPPort: 161}}, false); err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("tzdata is required: %v", err)
	}
	utc := func(s string) time.Time { return mustTime(t, time.RFC3339Nano, s, time.UTC) }
	local := func(s string) time.Time { return mustTime(t, "2006-01-02 15:04:05 MST", s, berlin) }
	tests := []struct {
		name   string
		cutoff time.Time
	}{
		{"mid-day", utc("2026-10-15T13:37:00Z")},
		{"start of a partition day", utc("2026-10-15T00:00:00Z")},
		{"one minute into a partition day", utc("2026-10-15T00:01:00Z")},
		{"one minute before a partition day ends", utc("2026-10-15T23:59:00Z")},
		{"last millisecond of a partition day", utc("2026-10-15T23:59:59.999Z")},
		// 03:00 CEST becomes 02:00 CET on 2026-10-25; the local day has 25 hours.
		{"autumn DST change, first 02:30", local("2026-10-25 02:30:00 CEST")},
		{"autumn DST change, second 02:30", local("2026-10-25 02:30:00 CET")},
		{"local midnight of the 25-hour day", local("2026-10-25 00:00:00 CEST")},
		// 02:00 CET becomes 03:00 CEST on 2026-03-29; the local day has 23 hours.
		{"spring DST change", local("2026-03-29 03:00:00 CEST")},
		{"local midnight after the 23-hour day", local("2026-03-30 00:00:00 CEST")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cutoff
			day := c.UTC().Truncate(24 * time.Hour)
			var rows []model.PingResult
			seen := map[time.Time]bool{}
			for _, at := range []time.Time{
				c.Add(-24*time.Hour - time.Minute), c.Add(-time.Minute), c.Add(-time.Millisecond), c,
				c.Add(time.Millisecond), c.Add(time.Minute), c.Add(24*time.Hour + time.Minute),
				day.Add(-time.Millisecond), day, day.Add(24*time.Hour - time.Millisecond), day.Add(24 * time.Hour),
			} {
				if !seen[at] {
					seen[at] = true
					rows = append(rows, model.PingResult{DeviceID: 1, DeviceIP: ip, Timestamp: at, IsReachable: true, Sent: 3, Received: 3})
				}
			}
			if err := s.InsertPingResults(ctx, rows); err != nil {
				t.Fatal(err)
			}
			dropped, err := s.DropPingPartitionsBefore(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range dropped {
				d, err := time.Parse("20060102", strings.TrimPrefix(n, "ping_results_"))
				if err != nil || d.Add(24*time.Hour).After(c) {
					t.Errorf("dropped %s, which holds rows newer than the cutoff %s", n, c.UTC().Format(time.RFC3339Nano))
				}
			}
			var want []time.Time
			for _, r := range rows {
				if !r.Timestamp.Before(c) {
					want = append(want, r.Timestamp.UTC())
				}
			}
			slices.SortFunc(want, time.Time.Compare)
			left, err := s.PingHistory(ctx, ip, c.Add(-72*time.Hour), c.Add(72*time.Hour), 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []time.Time
			for _, r := range left {
				got = append(got, r.Timestamp)
			}
			if !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("cutoff %s: rows left\n  %s\nwant exactly those at or after the cutoff\n  %s",
					c.UTC().Format(time.RFC3339Nano), stamps(got), stamps(want))
			}
			// Start the next case from an empty table: this cutoff is past every row.
			if _, err := s.DropPingPartitionsBefore(ctx, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func mustTime(t *testing.T, layout, s string, loc *time.Location) time.Time {
	t.Helper()
	v, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func stamps(ts []time.Time) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.UTC().Format("01-02T15:04:05.000"))
	}
	return b.String()
}
