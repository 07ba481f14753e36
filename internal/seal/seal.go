// Package seal encrypts SNMP secrets for storage: AES-256-GCM under one of a keyring's keys, each
// key named by an id that is stored beside the values it sealed, so a key can be rotated while
// values sealed under the previous one stay readable.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Keyring is a set of AES-256 keys by id; the first key parsed is the current one, which seals.
type Keyring struct {
	current string
	keys    map[string]cipher.AEAD
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

// Parse reads a key list: entries ID:BASE64 (32 bytes of key, standard or URL base64) separated by
// newlines or commas; blank lines and lines starting with # are skipped. The first entry is the
// current key. Errors never include key material.
func Parse(text string) (*Keyring, error) {
	k := &Keyring{keys: map[string]cipher.AEAD{}}
	n := 0
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		n++
		id, b64, ok := strings.Cut(line, ":")
		if !ok || !idRe.MatchString(id) {
			return nil, fmt.Errorf("secret key entry %d: must be ID:BASE64 with an id of letters, digits, _ . -", n)
		}
		raw, err := decode(b64)
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("secret key %q: must be 32 bytes in base64", id)
		}
		if _, dup := k.keys[id]; dup {
			return nil, fmt.Errorf("secret key %q: given twice", id)
		}
		blk, err := aes.NewCipher(raw)
		if err != nil {
			return nil, fmt.Errorf("secret key %q: %w", id, err)
		}
		gcm, err := cipher.NewGCM(blk)
		if err != nil {
			return nil, fmt.Errorf("secret key %q: %w", id, err)
		}
		k.keys[id] = gcm
		if k.current == "" {
			k.current = id
		}
	}
	if k.current == "" {
		return nil, errors.New("secret key list is empty")
	}
	return k, nil
}

func decode(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// ReadFile parses the key list in a file. A file others can read is refused: it holds the key to
// every SNMP secret.
func ReadFile(path string) (*Keyring, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read secret key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s: mode %v lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read secret key file: %w", err)
	}
	k, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return k, nil
}

// NewEntry makes a fresh key entry ID:BASE64 from crypto/rand, for a key file.
func NewEntry(id string) (string, error) {
	if !idRe.MatchString(id) {
		return "", fmt.Errorf("key id %q: letters, digits, _ . - only", id)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cannot generate key: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(b), nil
}

// Current is the id of the key Seal uses.
func (k *Keyring) Current() string { return k.current }

// Has says whether the keyring holds key id.
func (k *Keyring) Has(id string) bool { _, ok := k.keys[id]; return ok }

// Seal encrypts plain under the current key; field (the column it is stored in) is bound as
// additional data, so a sealed value copied into another column does not open. An empty value
// stays empty.
func (k *Keyring) Seal(field, plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	gcm := k.keys[k.current]
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("cannot seal %s: %w", field, err)
	}
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), []byte(field))), nil
}

// ErrUnknownKey is a value sealed under a key the keyring lacks.
var ErrUnknownKey = errors.New("sealed under a key that is not configured")

// Open decrypts a value Seal made under key id.
func (k *Keyring) Open(id, field, sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	gcm, ok := k.keys[id]
	if !ok {
		return "", fmt.Errorf("cannot open %s: key %q: %w", field, id, ErrUnknownKey)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < gcm.NonceSize()+gcm.Overhead() {
		return "", fmt.Errorf("cannot open %s: not a sealed value", field)
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(field))
	if err != nil {
		return "", fmt.Errorf("cannot open %s under key %q: %w", field, id, err)
	}
	return string(plain), nil
}
