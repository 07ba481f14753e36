package model

// Secret is a value that must never be printed, logged or returned by an API: an SNMP community
// or a v3 key. fmt, slog and encoding/json all print it as "<secret>"; Reveal is the one way to
// get the value, and only the code that speaks SNMP calls it.
type Secret string

const redacted = "<secret>"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String redacts the value; an empty secret prints as empty so "not set" stays visible.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts the value for %#v too.
func (s Secret) GoString() string { return s.String() }

// MarshalText redacts the value in JSON, YAML and slog output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
