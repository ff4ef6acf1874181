package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// SecretPrefix starts every endpoint secret (Standard Webhooks).
const SecretPrefix = "whsec_"

// NewSecret returns a signing secret: "whsec_" and 24 random bytes in base64.
func NewSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("webhook: crypto/rand failed: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Sign returns the webhook-signature header for one attempt: "v1,<base64
// HMAC-SHA256 of id.timestamp.body>" per secret, separated by spaces (more
// than one while a rotated-out secret still signs). Receivers verify it with
// any Standard Webhooks library.
func Sign(msgID string, ts time.Time, body []byte, secrets ...string) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if s == "" {
			continue
		}
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("webhook: secret: %w", err)
		}
		sig, err := wh.Sign(msgID, ts, body)
		if err != nil {
			return "", fmt.Errorf("webhook: sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return "", fmt.Errorf("webhook: sign: no secret")
	}
	return strings.Join(sigs, " "), nil
}

// setHeaders puts the Standard Webhooks headers of one attempt on h.
func setHeaders(h http.Header, msgID string, ts time.Time, body []byte, secrets ...string) error {
	sig, err := Sign(msgID, ts, body, secrets...)
	if err != nil {
		return err
	}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Partli-Webhooks/1.0")
	h.Set(standardwebhooks.HeaderWebhookID, msgID)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return nil
}
