package secret_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/partli/partli/internal/secret"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	raw, err := secret.ParseKey(secret.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSealOpen(t *testing.T) {
	a, b := mustKey(t), mustKey(t)
	keys, err := secret.New(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := "whsec_" + strings.Repeat("x", 40)
	sealed, err := keys.Seal(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, secret.Prefix+secret.KeyID(a)+":") || strings.Contains(sealed, "whsec_") {
		t.Fatalf("sealed %q: want v1:<key id>: and no plain text", sealed)
	}
	again, _ := keys.Seal(plain)
	if again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := keys.Open(sealed); err != nil || got != plain {
		t.Fatalf("open: %q, %v", got, err)
	}
	if id, ok := secret.SealedBy(sealed); !ok || id != keys.CurrentID() {
		t.Fatalf("SealedBy: %q %v, want %s", id, ok, keys.CurrentID())
	}

	// Rotation: the new current key opens what the previous one sealed.
	rotated, err := secret.New(b, a)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(sealed); err != nil || got != plain {
		t.Fatalf("open with the previous key: %q, %v", got, err)
	}
	resealed, _ := rotated.Seal(plain)
	if id, _ := secret.SealedBy(resealed); id != secret.KeyID(b) || !rotated.Has(secret.KeyID(a)) || !rotated.Has(id) {
		t.Fatalf("resealed under %s, want the current key %s", id, secret.KeyID(b))
	}
	// Without the old key, what it sealed cannot be opened.
	onlyB, _ := secret.New(b, nil)
	if _, err := onlyB.Open(sealed); !errors.Is(err, secret.ErrUnknownKey) {
		t.Fatalf("open under an unknown key: %v, want ErrUnknownKey", err)
	}
	// Tampering is detected: a changed byte, or another key id put in front.
	raw := []byte(sealed)
	raw[len(raw)-3] ^= 1
	if _, err := keys.Open(string(raw)); !errors.Is(err, secret.ErrCorrupt) {
		t.Fatalf("open of a changed value: %v, want ErrCorrupt", err)
	}
	swapped := secret.Prefix + secret.KeyID(b) + sealed[len(secret.Prefix)+8:]
	if _, err := rotated.Open(swapped); !errors.Is(err, secret.ErrCorrupt) {
		t.Fatalf("open with another key id: %v, want ErrCorrupt", err)
	}
	for _, bad := range []string{"whsec_plain", "v1:", "v1:nothex12:abc", "v1:" + secret.KeyID(a) + ":***"} {
		if _, err := keys.Open(bad); err == nil {
			t.Errorf("open %q: no error", bad)
		}
	}
	// No secret stays no secret, with or without keys.
	var none *secret.Keys
	if s, err := none.Seal(""); s != "" || err != nil {
		t.Fatalf("seal of nothing: %q %v", s, err)
	}
	if _, err := none.Seal(plain); !errors.Is(err, secret.ErrNoKey) {
		t.Fatalf("seal without keys: %v, want ErrNoKey", err)
	}
	if _, err := none.Open(sealed); !errors.Is(err, secret.ErrNoKey) {
		t.Fatalf("open without keys: %v, want ErrNoKey", err)
	}
}

func TestParseKey(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(250 + i) // bytes whose base64 has + and / (or - and _)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		s := enc.EncodeToString(raw)
		got, err := secret.ParseKey(" " + s + "\n")
		if err != nil || string(got) != string(raw) {
			t.Errorf("ParseKey(%q): %v", s, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(raw[:16]), "!!!!" + base64.StdEncoding.EncodeToString(raw)} {
		if _, err := secret.ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q): no error", bad)
		}
	}
	a := mustKey(t)
	if _, err := secret.New(a, a); err == nil {
		t.Error("New with the same key twice: no error")
	}
	if _, err := secret.New(a[:16], nil); err == nil {
		t.Error("New with a 16-byte key: no error")
	}
}
