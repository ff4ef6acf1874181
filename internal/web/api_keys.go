package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/store"
)

// keyCache remembers recent key look-ups for a few seconds so that the
// tracking hot path does not read api_keys on every call. Revocation in
// this process drops the entry at once; other replicas see it within keyTTL.
type keyCache struct {
	mu      sync.Mutex
	entries map[[32]byte]keyEntry
}

type keyEntry struct {
	key     store.APIKey
	fetched time.Time
}

const (
	keyTTL       = 5 * time.Second
	touchEvery   = time.Minute
	workspaceKey = "workspaceID"
	apiKeyIDKey  = "apiKeyID"
)

func newKeyCache() *keyCache { return &keyCache{entries: map[[32]byte]keyEntry{}} }

func (kc *keyCache) get(h [32]byte, now time.Time) (store.APIKey, bool) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	e, ok := kc.entries[h]
	if !ok || now.Sub(e.fetched) > keyTTL {
		return store.APIKey{}, false
	}
	return e.key, true
}

func (kc *keyCache) put(h [32]byte, k store.APIKey, now time.Time) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	if len(kc.entries) > 10000 {
		clear(kc.entries)
	}
	kc.entries[h] = keyEntry{key: k, fetched: now}
}

func (kc *keyCache) forget(keyID string) {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	for h, e := range kc.entries {
		if e.key.ID == keyID {
			delete(kc.entries, h)
		}
	}
}

func unauthorized(msg string) error {
	return &APIError{Status: http.StatusUnauthorized, Code: "unauthorized", Message: msg}
}

// requireKey authenticates `Authorization: Bearer pk_live_…` and puts the
// key's workspace on the context.
func (s *Server) requireKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, text, ok := strings.Cut(auth, " ")
		if auth == "" {
			return unauthorized("Send your API key as Authorization: Bearer pk_live_….")
		}
		text = strings.TrimSpace(text)
		if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(text, accounts.KeyPrefix) || len(text) > 200 {
			return unauthorized("The Authorization header must be Bearer pk_live_….")
		}
		h := sha256.Sum256([]byte(text))
		now := time.Now()
		key, cached := s.keys.get(h, now)
		if !cached {
			k, err := s.store.APIKeyByHash(c.Request().Context(), h[:])
			if errors.Is(err, store.ErrNotFound) {
				return unauthorized("This API key is not valid.")
			}
			if err != nil {
				return err
			}
			key = *k
			s.keys.put(h, key, now)
		}
		if key.RevokedAt != nil {
			return unauthorized("This API key has been revoked.")
		}
		if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) > touchEvery {
			key.LastUsedAt = &now
			s.keys.put(h, key, now)
			go s.touchKey(key.WorkspaceID, key.ID, now)
		}
		c.Set(workspaceKey, key.WorkspaceID)
		c.Set(apiKeyIDKey, key.ID)
		return next(c)
	}
}

func (s *Server) touchKey(workspaceID, id string, at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.store.TouchAPIKey(ctx, workspaceID, id, at); err != nil {
		s.log.Warn("recording api key use failed", "key", id, "err", err)
	}
}

func workspaceOf(c echo.Context) string { return c.Get(workspaceKey).(string) }
