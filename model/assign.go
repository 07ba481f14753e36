package model

import (
	"hash/fnv"
	"strconv"
	"time"
)

// Collector is one collector process sharing the fleet, as its heartbeat row says.
type Collector struct {
	ID          string
	Zone        string // "": takes devices of any region that has no collector of its own
	StartedAt   time.Time
	HeartbeatAt time.Time
	ExpiresAt   time.Time // past it the collector is no longer counted
}

// Owner picks the collector that probes a device, by rendezvous (highest-random-weight) hashing
// over the live collectors: every collector computes the same answer from the same member list,
// and when one joins or leaves only the devices it wins or held move (about 1/N of the fleet).
// Collectors whose zone is the device's region are the candidates; when there are none, every
// live collector is. It returns "" for an empty list.
func Owner(members []Collector, deviceID int64, region string) string {
	zoned := false
	for _, m := range members {
		if m.Zone != "" && m.Zone == region {
			zoned = true
			break
		}
	}
	var best string
	var bestW uint64
	key := strconv.FormatInt(deviceID, 10)
	for _, m := range members {
		if zoned && m.Zone != region {
			continue
		}
		if w := weight(m.ID, key); best == "" || w > bestW || (w == bestW && m.ID < best) {
			best, bestW = m.ID, w
		}
	}
	return best
}

func weight(member, key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(member))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	// FNV alone mixes the last bytes poorly; a finaliser (splitmix64) spreads the weights.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
