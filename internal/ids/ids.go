// Package ids makes the opaque, prefixed identifiers Partli hands out
// ("prog_…", "c_…"). An identifier is 128 bits in lower-case base32: the
// creation time in milliseconds (48 bits), then 80 random bits. So ids sort
// by creation time, as UUIDv7 and ULID do, and a new row's key lands at the
// end of its primary-key index rather than on a random page of it: inserts
// stay as cheap at ten million rows as at ten thousand. Nothing about volume
// leaks through them; the creation time does, as every API object's
// createdAt shows it anyway. Secrets (API keys, tokens) come from Random.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// The alphabet is in ASCII order, so the text of two ids sorts as their
// bits do.
var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns prefix + "_" + 26 characters: the time now and 80 random bits.
func New(prefix string) string {
	return prefix + "_" + At(time.Now())
}

// At returns the 26 characters of an id made at t: t's Unix milliseconds
// in 48 bits, then 80 random bits.
func At(t time.Time) string {
	var b [16]byte
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(t.UnixMilli()))
	copy(b[:6], ms[2:])
	if _, err := rand.Read(b[6:]); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	return enc.EncodeToString(b[:])
}

// Random returns n random bytes as lower-case base32 text.
func Random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ids: crypto/rand failed: " + err.Error())
	}
	return enc.EncodeToString(b)
}

// Prefixes of the identifiers, one per kind of object.
const (
	Workspace    = "ws"
	User         = "usr"
	APIKey       = "key"
	Program      = "prog"
	Group        = "grp"
	Reward       = "rwd"
	Partner      = "ptn"
	Code         = "code"
	Account      = "acct"
	Invite       = "inv"
	Session      = "sess"
	Click        = "c"
	Customer     = "cus"
	Event        = "evt"
	Sale         = "sale"
	Lead         = "lead"
	Commission   = "cm"
	Payout       = "po"
	Endpoint     = "we"
	Delivery     = "dlv"
	WebhookEvent = "evt"
	Mail         = "mail"
	Token        = "tok"
	UserInvite   = "uinv"
)

// HasPrefix reports whether id looks like one of ours of the given kind.
func HasPrefix(id, prefix string) bool {
	return strings.HasPrefix(id, prefix+"_") && len(id) > len(prefix)+1
}

// firstOrdered is when Partli began making time-ordered ids; an id that
// reads as made before it (or in the future) is one of the random ids of
// before.
var firstOrdered = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// TimeOf reads the time an id of prefix was made, to the millisecond. ok is
// false when the id is not one of ours, or is one of the older random ids.
func TimeOf(id, prefix string) (t time.Time, ok bool) {
	if !strings.HasPrefix(id, prefix+"_") {
		return time.Time{}, false
	}
	b, err := enc.DecodeString(id[len(prefix)+1:])
	if err != nil || len(b) != 16 {
		return time.Time{}, false
	}
	var ms [8]byte
	copy(ms[2:], b[:6])
	t = time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:]))).UTC()
	if t.Before(firstOrdered) || t.After(time.Now().Add(24*time.Hour)) {
		return time.Time{}, false
	}
	return t, true
}
