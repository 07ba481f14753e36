package query

import (
	"context"
	"testing"
	"time"

	"github.com/wardops/wardops/model"
)

// TestCollectorsEndpoint: the live collectors with the devices each owns by the collectors' own
// assignment; an expired heartbeat is not listed, and disabled devices are nobody's.
func TestCollectorsEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	devs := e.seedInventory(3, 10, map[int]bool{4: true})
	ctx := context.Background()
	for _, id := range []string{"east-1", "west-1"} {
		if _, err := e.st.Heartbeat(ctx, id, "", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.Heartbeat(ctx, "gone", "", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	live := []model.Collector{{ID: "east-1"}, {ID: "west-1"}}
	want := map[string]int{}
	for _, d := range devs {
		if d.Enabled {
			want[model.Owner(live, d.ID, d.Region)]++
		}
	}
	var body struct {
		Collectors []struct {
			ID      string `json:"id"`
			Devices int    `json:"devices"`
		} `json:"collectors"`
		Unassigned int `json:"unassigned_devices"`
	}
	if code := e.get("/api/v1/collectors", &body); code != 200 {
		t.Fatalf("status %d", code)
	}
	if len(body.Collectors) != 2 || body.Unassigned != 0 {
		t.Fatalf("got %+v, want east-1 and west-1 only", body)
	}
	for _, c := range body.Collectors {
		if c.Devices != want[c.ID] {
			t.Errorf("%s owns %d devices, want %d", c.ID, c.Devices, want[c.ID])
		}
	}
	if want["east-1"]+want["west-1"] != len(devs)-1 {
		t.Fatalf("assignment lost devices: %v of %d enabled", want, len(devs)-1)
	}
}
