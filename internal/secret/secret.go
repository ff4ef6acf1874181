// Package secret seals the secrets Partli stores (webhook signing secrets,
// Stripe signing secrets) with AES-256-GCM, so that a copy of the database
// — a backup, a replica, a dump in a ticket — does not hold them.
//
// A sealed value reads "v1:<key id>:<base64url of nonce and ciphertext>".
// The key id (the first 4 bytes of a hash of the key, in hex) says which
// key sealed it, so keys can be rotated: Keys opens what either its current
// or its previous key sealed, and seals with the current one.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Prefix starts every sealed value (the format's version).
const Prefix = "v1:"

// KeySize is the size of a key: AES-256.
const KeySize = 32

var (
	// ErrNoKey: no key is configured, so nothing can be sealed or opened.
	ErrNoKey = errors.New("secret: no encryption key is set (PARTLI_ENCRYPTION_KEY)")
	// ErrUnknownKey: the value was sealed under a key these Keys do not have.
	ErrUnknownKey = errors.New("secret: sealed under a key that is not configured")
	// ErrCorrupt: the value is not a sealed value, or was altered.
	ErrCorrupt = errors.New("secret: not a valid sealed value")
)

// Keys seals and opens secrets. A nil *Keys has no key: Seal and Open
// return ErrNoKey.
type Keys struct {
	current  key
	previous *key
}

type key struct {
	id   string
	aead cipher.AEAD
}

func newKey(raw []byte) (key, error) {
	if len(raw) != KeySize {
		return key{}, fmt.Errorf("secret: a key is %d bytes, not %d", KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("secret: %w", err)
	}
	return key{id: KeyID(raw), aead: aead}, nil
}

// KeyID names a key without revealing it: the first 4 bytes of its
// SHA-256 (under a label of its own), in hex.
func KeyID(raw []byte) string {
	sum := sha256.Sum256(append([]byte("partli secret key id\x00"), raw...))
	return hex.EncodeToString(sum[:4])
}

// New returns Keys that seal with current and also open what previous
// sealed (previous may be nil).
func New(current, previous []byte) (*Keys, error) {
	cur, err := newKey(current)
	if err != nil {
		return nil, err
	}
	k := &Keys{current: cur}
	if previous != nil {
		prev, err := newKey(previous)
		if err != nil {
			return nil, err
		}
		if prev.id == cur.id {
			return nil, errors.New("secret: the previous key is the current key")
		}
		k.previous = &prev
	}
	return k, nil
}

// ParseKey decodes a key written in base64, standard or URL alphabet,
// padded or not.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			if len(raw) != KeySize {
				return nil, fmt.Errorf("decodes to %d bytes; a key is %d random bytes in base64 (openssl rand -base64 32)", len(raw), KeySize)
			}
			return raw, nil
		}
	}
	return nil, fmt.Errorf("is not base64; a key is %d random bytes in base64 (openssl rand -base64 32)", KeySize)
}

// NewKey returns a new random key in base64.
func NewKey() string {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		panic("secret: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// CurrentID is the id of the key that seals; "" for nil Keys.
func (k *Keys) CurrentID() string {
	if k == nil {
		return ""
	}
	return k.current.id
}

// Has reports whether k opens what the key with id sealed.
func (k *Keys) Has(id string) bool {
	return k != nil && (id == k.current.id || k.previous != nil && id == k.previous.id)
}

// Seal encrypts plain under the current key. The empty string stays empty
// (no secret), so "is one set" stays a plain comparison.
func (k *Keys) Seal(plain string) (string, error) {
	if plain == "" {
		return "", nil
	}
	if k == nil {
		return "", ErrNoKey
	}
	nonce := make([]byte, k.current.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	prefix := Prefix + k.current.id + ":"
	out := k.current.aead.Seal(nonce, nonce, []byte(plain), []byte(prefix))
	return prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made with either key.
func (k *Keys) Open(sealed string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	id, ok := SealedBy(sealed)
	if !ok {
		return "", ErrCorrupt
	}
	if k == nil {
		return "", ErrNoKey
	}
	var with *key
	switch {
	case id == k.current.id:
		with = &k.current
	case k.previous != nil && id == k.previous.id:
		with = k.previous
	default:
		return "", fmt.Errorf("%w (key id %s; PARTLI_ENCRYPTION_KEY is %s)", ErrUnknownKey, id, k.current.id)
	}
	prefix := Prefix + id + ":"
	raw, err := base64.RawURLEncoding.DecodeString(sealed[len(prefix):])
	if err != nil || len(raw) < with.aead.NonceSize() {
		return "", ErrCorrupt
	}
	plain, err := with.aead.Open(nil, raw[:with.aead.NonceSize()], raw[with.aead.NonceSize():], []byte(prefix))
	if err != nil {
		return "", ErrCorrupt
	}
	return string(plain), nil
}

// SealedBy returns the id of the key that sealed v; false when v is not a
// sealed value (plain text, written before secrets were sealed).
func SealedBy(v string) (string, bool) {
	rest, ok := strings.CutPrefix(v, Prefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ":")
	if !ok || len(id) != 8 {
		return "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", false
	}
	return id, true
}
