package model

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is returned when the row asked for does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is matched (errors.Is) by every *ConflictError.
var ErrConflict = errors.New("conflict")

// ConflictError is a write refused by a unique or foreign-key constraint. Detail is what the
// database says about it ("Key (name)=(x) already exists"): it names the column and value, never a
// secret, because no secret column carries such a constraint.
type ConflictError struct {
	Constraint string
	Detail     string
}

func (e *ConflictError) Error() string {
	if e.Detail == "" {
		return ErrConflict.Error()
	}
	return ErrConflict.Error() + ": " + e.Detail
}

// Is makes errors.Is(err, ErrConflict) true for every conflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// RefError says which field of a write names a row that does not exist (a branch, a parent
// device, an SNMP credential), so the API can name the parameter in its 400.
type RefError struct {
	Field string
	Value string
}

func (e *RefError) Error() string { return fmt.Sprintf("unknown %s %s", e.Field, e.Value) }

// LineError is one rejected input line.
type LineError struct {
	Line   int
	Reason string
}

// LinesError lists every rejected line of an import; nothing was written.
type LinesError struct{ Lines []LineError }

func (e *LinesError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad line(s), nothing imported", len(e.Lines))
	for _, l := range e.Lines {
		fmt.Fprintf(&b, "\n  line %d: %s", l.Line, l.Reason)
	}
	return b.String()
}

// ErrNoSecretKey is a write of an SNMP secret to a store that has no key to seal it with:
// secrets are stored only encrypted (WARDOPS_SECRET_KEY_FILE).
var ErrNoSecretKey = errors.New("no secret key configured (WARDOPS_SECRET_KEY_FILE or WARDOPS_SECRET_KEY): SNMP secrets are stored only encrypted")
