package email

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"

	"github.com/partli/partli/internal/store"
)

// Links makes the addresses mails point at, from PARTLI_BASE_URL, and the
// tokens in them.
//
// A link that proves an address (a password reset, a verification, an
// invitation) carries a token derived from the id of the row it opens, with
// a key of the server's (from PARTLI_SESSION_SECRET): HMAC-SHA256 of the
// purpose and the id. The row keeps only the token's SHA-256 and the outbox
// only the id, so a copy of the database opens nothing; the worker derives
// the token again when it sends. Changing PARTLI_SESSION_SECRET makes the
// links mailed before it stop working.
//
// An unsubscribe link carries its kind and address, signed with the same
// key, so nobody can turn off another person's mail.
type Links struct {
	Base string
	key  []byte
}

// Token purposes: what a derived token opens.
const (
	PurposePasswordReset     = store.TokenPasswordReset
	PurposeEmailVerification = store.TokenEmailVerification
	PurposePartnerInvite     = "partner_invite"
	PurposeTeammateInvite    = "teammate_invite"
)

// NewLinks returns the links of a server at baseURL with sessionSecret.
func NewLinks(baseURL, sessionSecret string) Links {
	key := sha256.Sum256([]byte("partli mail links\x00" + sessionSecret))
	return Links{Base: strings.TrimRight(baseURL, "/"), key: key[:]}
}

func (l Links) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// Token is the token of the link of purpose that opens the row id.
func (l Links) Token(purpose, id string) string {
	return base64.RawURLEncoding.EncodeToString(l.mac("token", purpose, id))
}

// TokenHash is what a token's row keeps of it.
func TokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// unsubscribeMACLen is how much of the HMAC an unsubscribe token keeps:
// 128 bits, more than anyone can guess.
const unsubscribeMACLen = 16

// UnsubscribeToken signs "turn kind off for address".
func (l Links) UnsubscribeToken(kind, address string) string {
	payload := kind + "\x00" + strings.ToLower(address)
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." +
		base64.RawURLEncoding.EncodeToString(l.mac("unsubscribe", payload)[:unsubscribeMACLen])
}

// Unsubscribe is the one-click unsubscribe address of kind for address
// (List-Unsubscribe): a POST to it turns that kind off, a GET shows a page
// asking to confirm.
func (l Links) Unsubscribe(kind, address string) string {
	return l.Base + "/unsubscribe/" + l.UnsubscribeToken(kind, address)
}

// ParseUnsubscribe checks an unsubscribe token and returns its kind and
// address; ok is false for a token these links did not sign, or of a kind
// that cannot be turned off.
func (l Links) ParseUnsubscribe(token string) (kind, address string, ok bool) {
	p, sig, found := strings.Cut(token, ".")
	if !found || len(token) > 1024 {
		return "", "", false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, l.mac("unsubscribe", string(payload))[:unsubscribeMACLen]) {
		return "", "", false
	}
	kind, address, found = strings.Cut(string(payload), "\x00")
	if !found || address == "" {
		return "", "", false
	}
	if k, ok := Notification(kind); !ok || k.Name != kind {
		return "", "", false
	}
	return kind, address, true
}
