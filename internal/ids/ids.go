// Package ids makes the opaque, prefixed identifiers Partli hands out
// ("prog_…", "c_…"). They are random, not sequential: nothing about volume
// or order leaks through them.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns prefix + "_" + 26 random characters (128 bits).
func New(prefix string) string {
	return prefix + "_" + Random(16)
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
	Account      = "acct"
	Invite       = "inv"
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
)

// HasPrefix reports whether id looks like one of ours of the given kind.
func HasPrefix(id, prefix string) bool {
	return strings.HasPrefix(id, prefix+"_") && len(id) > len(prefix)+1
}
