package usm

import "testing"

// TestCanonical: every accepted spelling maps to the one name the database's CHECK constraints
// allow, and that name maps back to the same gosnmp constant.
func TestCanonical(t *testing.T) {
	f := func(canon func(string) (string, error), in, want string) {
		t.Helper()
		got, err := canon(in)
		if want == "!" {
			if err == nil {
				t.Errorf("%q accepted as %q", in, got)
			}
			return
		}
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", in, got, err, want)
		}
	}
	f(CanonicalAuth, "sha1", "SHA")
	f(CanonicalAuth, " Sha256 ", "SHA256")
	f(CanonicalAuth, "none", "")
	f(CanonicalAuth, "", "")
	f(CanonicalAuth, "SHA3", "!")
	f(CanonicalPriv, "aes128", "AES")
	f(CanonicalPriv, "aes256c", "AES256C")
	f(CanonicalPriv, "NOPRIV", "")
	f(CanonicalPriv, "3DES", "!")
	for _, p := range authProtocols {
		for _, n := range append([]string{p.name}, p.aliases...) {
			if got, err := AuthProtocol(n); err != nil || got != p.p {
				t.Errorf("auth %q: %v %v, want %v", n, got, err, p.p)
			}
		}
	}
	for _, p := range privProtocols {
		for _, n := range append([]string{p.name}, p.aliases...) {
			if got, err := PrivProtocol(n); err != nil || got != p.p {
				t.Errorf("priv %q: %v %v, want %v", n, got, err, p.p)
			}
		}
	}
}
