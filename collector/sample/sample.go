// Package sample is the unit every prober produces and every writer consumes: one value of one
// series at the probe's own time.
package sample

import "strings"

// Label is one name=value pair of a series.
type Label struct{ Name, Value string }

// Sample is one point. Timestamp is Unix milliseconds taken when the probe ran, never when it was
// pushed, so a sample replayed from the spool lands where it belongs.
type Sample struct {
	Name   string
	Labels []Label
	// LabelText, when set, is Labels in Prometheus text form between the braces (AppendLabels),
	// rendered once by a producer that reuses the same label block poll after poll: the writer
	// then copies it instead of escaping every label of every sample again. Empty: the writer
	// renders Labels.
	LabelText string
	Value     float64
	Timestamp int64
}

// Block is a label set shared by many samples, with its text rendered once.
type Block struct {
	Labels []Label
	Text   string
}

// NewBlock renders labels once for every sample that will carry them.
func NewBlock(labels []Label) Block {
	return Block{Labels: labels, Text: string(AppendLabels(nil, labels))}
}

// AppendLabels appends labels as Prometheus text without the braces: a="b",c="d". Values are
// escaped as the format requires (backslash, double quote, newline); names are trusted to be
// valid, they come from our own code.
func AppendLabels(dst []byte, labels []Label) []byte {
	for i, l := range labels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, l.Name...)
		dst = append(dst, '=', '"')
		dst = appendEscaped(dst, l.Value)
		dst = append(dst, '"')
	}
	return dst
}

func appendEscaped(dst []byte, v string) []byte {
	if !strings.ContainsAny(v, "\\\"\n") {
		return append(dst, v...)
	}
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '"':
			dst = append(dst, '\\', '"')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
