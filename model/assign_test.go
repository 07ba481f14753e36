package model

import "testing"

func members(ids ...string) []Collector {
	out := make([]Collector, len(ids))
	for i, id := range ids {
		out[i] = Collector{ID: id}
	}
	return out
}

// TestOwnerSpreadsAndMovesLittle: three collectors get a third each, a fourth takes about a
// quarter from the others and nothing moves between them, a leaver's devices go to the rest and
// nobody else's move.
func TestOwnerSpreadsAndMovesLittle(t *testing.T) {
	const n = 30000
	three, four, two := members("a", "b", "c"), members("a", "b", "c", "d"), members("a", "c")
	count := map[string]int{}
	movedToD, movedOther, leftB, movedNotB := 0, 0, 0, 0
	for id := int64(1); id <= n; id++ {
		o3, o4, o2 := Owner(three, id, ""), Owner(four, id, ""), Owner(two, id, "")
		count[o3]++
		switch {
		case o4 == "d":
			movedToD++
		case o4 != o3:
			movedOther++
		}
		if o3 == "b" {
			leftB++
		} else if o2 != o3 {
			movedNotB++
		}
	}
	for _, m := range three {
		if c := count[m.ID]; c < n/3*9/10 || c > n/3*11/10 {
			t.Errorf("%s owns %d of %d, want about a third", m.ID, c, n)
		}
	}
	if movedToD < n/4*9/10 || movedToD > n/4*11/10 || movedOther != 0 {
		t.Errorf("joining: %d moved to the new member (want about %d), %d between the old ones (want 0)", movedToD, n/4, movedOther)
	}
	if movedNotB != 0 || leftB == 0 {
		t.Errorf("leaving: %d devices of the others moved (want 0)", movedNotB)
	}
	if Owner(nil, 1, "") != "" {
		t.Error("an empty group owns a device")
	}
}

func TestOwnerZones(t *testing.T) {
	ms := []Collector{{ID: "north-1", Zone: "north"}, {ID: "north-2", Zone: "north"}, {ID: "south-1", Zone: "south"}, {ID: "any"}}
	for id := int64(1); id <= 200; id++ {
		tests := []struct {
			region string
			allow  map[string]bool
		}{
			{"north", map[string]bool{"north-1": true, "north-2": true}},
			{"south", map[string]bool{"south-1": true}},
			{"east", map[string]bool{"north-1": true, "north-2": true, "south-1": true, "any": true}}, // no zone of its own: everyone
		}
		for _, tc := range tests {
			if o := Owner(ms, id, tc.region); !tc.allow[o] {
				t.Fatalf("device %d in %s went to %s", id, tc.region, o)
			}
		}
	}
}
