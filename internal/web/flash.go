package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/store"
)

// A secret shown once after a POST (a new API key, a webhook's signing
// secret, an invite link) is not shown in the POST's reply: the POST keeps
// it in the browser's server-side session and redirects (post/redirect/get),
// and the page it redirects to takes it from the session and shows it. A
// refresh of that page finds nothing, and repeats nothing: nothing is made
// twice, and the secret is shown once only.
//
// The session row keeps the secret sealed (AES-256-GCM) with a key derived
// from the session's cookie token, which the server never stores (the row
// has its hash): a copy of the database opens none of them.

// Kinds of one-time values.
const (
	flashAPIKey        = "api-key"
	flashWebhookSecret = "webhook-secret"
	flashInviteLink    = "invite-link"
	flashTeammateLink  = "teammate-link"
)

func flashAEAD(cookieToken string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte("partli session flash\x00" + cookieToken))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// setFlash keeps v (JSON) as the one-time value of kind in the dashboard
// session of the request.
func (s *Server) setFlash(c echo.Context, kind string, v any) error {
	sess, ck := currentSession(c), s.sessionToken(c, userCookie)
	if sess == nil || ck == "" {
		return errors.New("web: flash: no session")
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return err
	}
	aead, err := flashAEAD(ck)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := aead.Seal(nonce, nonce, plain, []byte(kind))
	return s.store.SetSessionFlash(c.Request().Context(), sess.ID, kind, sealed)
}

// takeFlash reads the one-time value of kind into v and removes it from the
// session; false when there is none (it was shown already).
func (s *Server) takeFlash(c echo.Context, kind string, v any) (bool, error) {
	sess, ck := currentSession(c), s.sessionToken(c, userCookie)
	if sess == nil || ck == "" {
		return false, nil
	}
	sealed, err := s.store.TakeSessionFlash(c.Request().Context(), sess.ID, kind)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	aead, err := flashAEAD(ck)
	if err != nil {
		return false, err
	}
	if len(sealed) < aead.NonceSize() {
		return false, fmt.Errorf("web: flash: %d bytes", len(sealed))
	}
	plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(kind))
	if err != nil {
		return false, fmt.Errorf("web: flash: %w", err)
	}
	return true, json.Unmarshal(plain, v)
}

// sessionToken is the session cookie's token of the request.
func (s *Server) sessionToken(c echo.Context, cookie string) string {
	ck, err := c.Cookie(cookie)
	if err != nil {
		return ""
	}
	return ck.Value
}
