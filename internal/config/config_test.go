package config

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/partli/partli/internal/secret"
)

func TestEncryptionKeys(t *testing.T) {
	key, previous := secret.NewKey(), secret.NewKey()
	raw, _ := secret.ParseKey(key)
	urlKey := base64.RawURLEncoding.EncodeToString(raw)
	for _, tc := range []struct {
		name, current, previous string
		wantErr                 string // "" for none
		wantKeys                bool
	}{
		{"none", "", "", "", false},
		{"one", key, "", "", true},
		{"URL alphabet, unpadded", urlKey, "", "", true},
		{"with the previous one", key, previous, "", true},
		{"previous alone", "", previous, "PARTLI_ENCRYPTION_KEY_PREVIOUS is set without", false},
		{"not base64", "s3cr3t!!", "", "PARTLI_ENCRYPTION_KEY is not base64", false},
		{"16 bytes", base64.StdEncoding.EncodeToString(raw[:16]), "", "PARTLI_ENCRYPTION_KEY decodes to 16 bytes", false},
		{"previous malformed", key, "s3cr3t!!", "PARTLI_ENCRYPTION_KEY_PREVIOUS is not base64", false},
		{"the same twice", key, key, "the previous key is the current key", false},
	} {
		t.Setenv("PARTLI_ENCRYPTION_KEY", tc.current)
		t.Setenv("PARTLI_ENCRYPTION_KEY_PREVIOUS", tc.previous)
		c, err := FromEnv()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.wantErr)
		case err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), key)):
			t.Errorf("%s: the error quotes the key: %v", tc.name, err)
		case tc.wantErr == "" && (c.SecretKeys != nil) != tc.wantKeys:
			t.Errorf("%s: keys %v, want keys: %v", tc.name, c.SecretKeys, tc.wantKeys)
		}
	}
	t.Setenv("PARTLI_ENCRYPTION_KEY", key)
	t.Setenv("PARTLI_ENCRYPTION_KEY_PREVIOUS", previous)
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	old, _ := secret.ParseKey(previous)
	if c.SecretKeys.CurrentID() != secret.KeyID(raw) || !c.SecretKeys.Has(secret.KeyID(old)) {
		t.Fatal("PARTLI_ENCRYPTION_KEY must seal and PARTLI_ENCRYPTION_KEY_PREVIOUS open")
	}
}

func TestMailSettings(t *testing.T) {
	t.Setenv("PARTLI_SMTP_URL", "")
	t.Setenv("PARTLI_MAIL_FROM", "")
	c, err := FromEnv()
	if err != nil || c.SMTPURL != "" || c.MailFrom.String() != `"Partli" <partli@localhost>` {
		t.Fatalf("defaults: %q %v (%v)", c.SMTPURL, c.MailFrom, err)
	}
	for _, tc := range []struct{ smtp, from, wantErr string }{
		{"smtp://mailer:pw@mail.example.com:587", "Acme Partners <partners@acme.example>", ""},
		{"smtps://mail.example.com", "partners@acme.example", ""},
		{"http://mail.example.com", "", "PARTLI_SMTP_URL: must be smtp://"},
		{"smtp://", "", "PARTLI_SMTP_URL: must be smtp://"},
		{"smtp://u:hunter2@:25", "", "PARTLI_SMTP_URL: must be"},
		{"", "not an address", "PARTLI_MAIL_FROM="},
		{"", "Evil <a@b.example>\r\nBcc: x@y.example", "PARTLI_MAIL_FROM="},
	} {
		t.Setenv("PARTLI_SMTP_URL", tc.smtp)
		t.Setenv("PARTLI_MAIL_FROM", tc.from)
		c, err := FromEnv()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q %q: %v", tc.smtp, tc.from, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q %q: %v, want an error with %q", tc.smtp, tc.from, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("the error quotes the SMTP password: %v", err)
		case tc.wantErr == "" && c.SMTPURL != tc.smtp:
			t.Errorf("SMTPURL %q", c.SMTPURL)
		}
	}
}
