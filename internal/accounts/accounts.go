// Package accounts creates workspaces, users and API keys: the credentials
// side of Partli.
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
)

// KeyPrefix starts every API key.
const KeyPrefix = "pk_live_"

// The rule for every new password, wherever it is chosen (the application
// form, an invitation, a user added in settings, `partli workspace create`):
// at least MinPasswordLen characters and at most MaxPasswordBytes bytes.
// bcrypt reads no further than 72 bytes, so a longer password would be cut
// silently; it is refused instead.
const (
	MinPasswordLen   = 8
	MaxPasswordBytes = 72
)

// PasswordError says why a new password is refused, as a phrase that
// follows "The password" or starts a field's message ("must be …").
type PasswordError string

func (e PasswordError) Error() string { return string(e) }

// CheckNewPassword applies the password rule: nil, or a PasswordError.
func CheckNewPassword(password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return PasswordError(fmt.Sprintf("must be at least %d characters", MinPasswordLen))
	case len(password) > MaxPasswordBytes:
		return PasswordError(fmt.Sprintf("must be at most %d bytes (letters, digits and punctuation are one byte each; accented letters and emoji take two to four)", MaxPasswordBytes))
	}
	return nil
}

const keyAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomText returns n characters drawn uniformly from [0-9A-Za-z].
func RandomText(n int) string {
	var sb strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(keyAlphabet))))
		if err != nil {
			panic("accounts: crypto/rand failed: " + err.Error())
		}
		sb.WriteByte(keyAlphabet[i.Int64()])
	}
	return sb.String()
}

// NewAPIKey makes a key: its full text (shown once) and the row to store,
// which keeps only the SHA-256 of the text and a prefix to list it by.
func NewAPIKey(workspaceID, name string, createdBy *string) (string, *store.APIKey) {
	text := KeyPrefix + RandomText(32)
	sum := sha256.Sum256([]byte(text))
	return text, &store.APIKey{
		ID: ids.New(ids.APIKey), WorkspaceID: workspaceID, Name: name,
		Prefix: text[:len(KeyPrefix)+4], Hash: sum[:], CreatedBy: createdBy,
	}
}

// HashPassword hashes a password with bcrypt. Check it with
// CheckNewPassword first: bcrypt refuses one over MaxPasswordBytes.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("accounts: hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword reports whether password matches hash. A password over
// MaxPasswordBytes never does: no such password was ever hashed, and bcrypt
// would compare only its first 72 bytes. It still takes bcrypt's time, so
// the reply's timing does not tell a known email from an unknown one.
func CheckPassword(hash, password string) bool {
	if len(password) > MaxPasswordBytes {
		_ = bcrypt.CompareHashAndPassword([]byte(hash), []byte(password[:MaxPasswordBytes]))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// ErrInvalid is a workspace request with a bad field; its message names it.
var ErrInvalid = errors.New("invalid")

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// NewWorkspace is what creating a workspace needs.
type NewWorkspace struct {
	Name          string
	Slug          string // generated from Name when empty
	OwnerEmail    string
	OwnerPassword string
}

// Created is a new workspace and the one-time text of its first API key.
type Created struct {
	Workspace store.Workspace
	Owner     store.User
	APIKey    string
}

// CreateWorkspace makes a workspace, its owner and a default API key.
func CreateWorkspace(ctx context.Context, st *store.Store, in NewWorkspace) (*Created, error) {
	in.Name = strings.TrimSpace(in.Name)
	if validator.Name(in.Name, validator.NameMax) != validator.CodeOK {
		return nil, fmt.Errorf("%w: name is required (at most 200 characters)", ErrInvalid)
	}
	if validator.Email(in.OwnerEmail) != validator.CodeOK {
		return nil, fmt.Errorf("%w: owner email %q is not an email address", ErrInvalid, in.OwnerEmail)
	}
	if err := CheckNewPassword(in.OwnerPassword); err != nil {
		return nil, fmt.Errorf("%w: owner password %v", ErrInvalid, err)
	}
	slug, generated := in.Slug, in.Slug == ""
	if generated {
		slug = strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(in.Name), "-"), "-")
		if len(slug) > 40 {
			slug = strings.TrimRight(slug[:40], "-")
		}
		if slug == "" {
			slug = "workspace"
		}
		if taken, err := st.WorkspaceSlugTaken(ctx, slug); err != nil {
			return nil, err
		} else if taken {
			slug += "-" + strings.ToLower(RandomText(5))
		}
	} else if validator.Slug(slug) != validator.CodeOK {
		return nil, fmt.Errorf("%w: slug must be lower-case letters, digits and dashes", ErrInvalid)
	}
	hash, err := HashPassword(in.OwnerPassword)
	if err != nil {
		return nil, err
	}
	ws := store.Workspace{ID: ids.New(ids.Workspace), Name: in.Name, Slug: slug}
	owner := store.User{ID: ids.New(ids.User), WorkspaceID: ws.ID, Email: in.OwnerEmail, Name: "",
		PasswordHash: hash, Role: "owner"}
	text, key := NewAPIKey(ws.ID, "Default key", &owner.ID)
	err = st.CreateWorkspace(ctx, &ws, &owner, key)
	switch {
	case store.ConflictKey(err) == store.WorkspaceSlugKey:
		return nil, fmt.Errorf("%w: workspace slug %q is taken", ErrInvalid, slug)
	case store.ConflictKey(err) == store.UserEmailKey:
		return nil, fmt.Errorf("%w: a user with email %q already exists", ErrInvalid, in.OwnerEmail)
	case err != nil:
		return nil, err
	}
	return &Created{Workspace: ws, Owner: owner, APIKey: text}, nil
}
