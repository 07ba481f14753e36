// Package sample is the unit every prober produces and every writer consumes: one value of one
// series at the probe's own time.
package sample

// Label is one name=value pair of a series.
type Label struct{ Name, Value string }

// Sample is one point. Timestamp is Unix milliseconds taken when the probe ran, never when it was
// pushed, so a sample replayed from the spool lands where it belongs.
type Sample struct {
	Name      string
	Labels    []Label
	Value     float64
	Timestamp int64
}
