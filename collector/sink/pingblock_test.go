package sink

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

func f64(v float64) *float64 { return &v }

func TestPingBlockRoundTrip(t *testing.T) {
	ts := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	rows := []model.PingResult{
		{DeviceID: 42, DeviceIP: netip.MustParseAddr("127.20.0.5"), Timestamp: ts, IsReachable: true,
			RTTAvgMs: f64(0.051), RTTMinMs: f64(0.04), RTTMaxMs: f64(0.07), RTTStddevMs: f64(0.012), Sent: 3, Received: 3},
		{DeviceID: 7, DeviceIP: netip.MustParseAddr("127.20.0.6"), Timestamp: ts.Add(-time.Hour), PacketLoss: 1, Sent: 6},
		{DeviceID: 1 << 40, DeviceIP: netip.MustParseAddr("::1"), Timestamp: ts.Add(time.Minute), IsReachable: true,
			RTTAvgMs: f64(1.5), PacketLoss: 1.0 / 3, Sent: 3, Received: 2},
		{DeviceID: 9, Timestamp: time.Unix(0, 0), Sent: -1, Received: 32767},
	}
	got, err := decodePingBlock(encodePingBlock(nil, rows))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		// PostgreSQL keeps microseconds; so does the block.
		rows[i].Timestamp = rows[i].Timestamp.Truncate(time.Microsecond).UTC()
	}
	if !reflect.DeepEqual(got, rows) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, rows)
	}
	if got, err := decodePingBlock(encodePingBlock(nil, nil)); err != nil || len(got) != 0 {
		t.Fatalf("empty block: %v %v", got, err)
	}
}

func TestPingBlockCorrupt(t *testing.T) {
	good := encodePingBlock(nil, []model.PingResult{{DeviceID: 1, DeviceIP: netip.MustParseAddr("127.20.0.1"), Timestamp: time.Now(), Sent: 3}})
	for name, b := range map[string][]byte{
		"empty":           {},
		"unknown version": append([]byte{2}, good[1:]...),
		"truncated":       good[:len(good)-1],
		"left over":       append(append([]byte{}, good...), 0),
		"row count lies":  {pingBlockV1, 200, 1},
		"bad address":     {pingBlockV1, 1, 2, 3, 0, 0, 0, 0, 0},
		"both loss flags": {pingBlockV1, 1, 2, 0, 2, pfLoss0 | pfLoss1, 3, 3},
	} {
		if _, err := decodePingBlock(b); !errors.Is(err, errPingBlock) {
			t.Errorf("%s: err %v, want errPingBlock", name, err)
		}
	}
}

// FuzzDecodePingBlock: spool contents come from disk, which may hold anything; decoding must never
// panic, and what decodes must survive an encode and decode unchanged.
func FuzzDecodePingBlock(f *testing.F) {
	f.Add(encodePingBlock(nil, []model.PingResult{{DeviceID: 3, DeviceIP: netip.MustParseAddr("127.20.0.1"), Timestamp: time.Now(),
		IsReachable: true, RTTAvgMs: f64(0.2), PacketLoss: 0.5, Sent: 2, Received: 1}}))
	f.Add([]byte{pingBlockV1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := decodePingBlock(b)
		if err != nil {
			return
		}
		// Varints have more than one encoding, so compare encodings of the decoded rows, not the
		// input bytes (nor the rows: a NaN loss is never equal to itself).
		once := encodePingBlock(nil, rs)
		rs2, err := decodePingBlock(once)
		if err != nil {
			t.Fatalf("cannot decode what was encoded: %v", err)
		}
		if twice := encodePingBlock(nil, rs2); string(twice) != string(once) {
			t.Fatalf("re-encoding changed the rows:\n%x\n%x", once, twice)
		}
	})
}
