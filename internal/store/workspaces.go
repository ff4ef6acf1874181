package store

import (
	"context"
	"fmt"
	"time"
)

// CreateWorkspace inserts a workspace with its owner user and first API key,
// all or nothing.
func (s *Store) CreateWorkspace(ctx context.Context, ws *Workspace, owner *User, key *APIKey) error {
	return s.InTx(ctx, func(tx *Tx) error {
		if err := tx.get(ctx, &ws.CreatedAt,
			`INSERT INTO workspaces (id, name, slug) VALUES ($1, $2, $3) RETURNING created_at`,
			ws.ID, ws.Name, ws.Slug); err != nil {
			return fmt.Errorf("store: create workspace: %w", err)
		}
		if err := tx.CreateUser(ctx, owner); err != nil {
			return err
		}
		return tx.CreateAPIKey(ctx, key)
	})
}

// WorkspaceByID returns one workspace.
func (q Queries) WorkspaceByID(ctx context.Context, id string) (*Workspace, error) {
	var ws Workspace
	if err := q.get(ctx, &ws, `SELECT id, name, slug, created_at FROM workspaces WHERE id = $1`, id); err != nil {
		return nil, fmt.Errorf("store: workspace: %w", err)
	}
	return &ws, nil
}

// WorkspaceBySlug returns one workspace by its public slug.
func (q Queries) WorkspaceBySlug(ctx context.Context, slug string) (*Workspace, error) {
	var ws Workspace
	if err := q.get(ctx, &ws, `SELECT id, name, slug, created_at FROM workspaces WHERE slug = $1`, slug); err != nil {
		return nil, fmt.Errorf("store: workspace: %w", err)
	}
	return &ws, nil
}

// WorkspaceSlugTaken reports whether a workspace already uses slug.
func (q Queries) WorkspaceSlugTaken(ctx context.Context, slug string) (bool, error) {
	var taken bool
	err := q.get(ctx, &taken, `SELECT EXISTS (SELECT 1 FROM workspaces WHERE slug = $1)`, slug)
	return taken, err
}

// CreateUser inserts a dashboard user and their sign-in email (global: an
// email taken in any workspace is ErrConflict on UserEmailKey).
func (q Queries) CreateUser(ctx context.Context, u *User) error {
	return q.atomically(ctx, func(q Queries) error {
		if _, err := q.exec(ctx, `INSERT INTO user_emails (email, workspace, user_id) VALUES (lower($1), $2, $3)`,
			u.Email, u.WorkspaceID, u.ID); err != nil {
			return fmt.Errorf("store: create user: %w", err)
		}
		err := q.get(ctx, &u.CreatedAt, `
			INSERT INTO users (id, workspace_id, email, name, password_hash, role)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
			u.ID, u.WorkspaceID, u.Email, u.Name, u.PasswordHash, u.Role)
		if err != nil {
			return fmt.Errorf("store: create user: %w", err)
		}
		return nil
	})
}

// UserByEmail finds a user by email address, any case.
func (q Queries) UserByEmail(ctx context.Context, email string) (*User, error) {
	var at struct {
		Workspace string `db:"workspace"`
		UserID    string `db:"user_id"`
	}
	if err := q.get(ctx, &at, `SELECT workspace, user_id FROM user_emails WHERE email = lower($1)`, email); err != nil {
		return nil, fmt.Errorf("store: user: %w", err)
	}
	var u User
	if err := q.get(ctx, &u, `SELECT * FROM users WHERE workspace_id = $1 AND id = $2`, at.Workspace, at.UserID); err != nil {
		return nil, fmt.Errorf("store: user: %w", err)
	}
	return &u, nil
}

// UserByID returns one user of the workspace.
func (q Queries) UserByID(ctx context.Context, workspaceID, id string) (*User, error) {
	var u User
	if err := q.get(ctx, &u, `SELECT * FROM users WHERE workspace_id = $1 AND id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: user: %w", err)
	}
	return &u, nil
}

// CreateAPIKey inserts a hashed API key and its global look-up by hash.
func (q Queries) CreateAPIKey(ctx context.Context, k *APIKey) error {
	return q.atomically(ctx, func(q Queries) error {
		if _, err := q.exec(ctx, `INSERT INTO api_key_hashes (hash, workspace, key_id) VALUES ($1, $2, $3)`,
			k.Hash, k.WorkspaceID, k.ID); err != nil {
			return fmt.Errorf("store: create api key: %w", err)
		}
		err := q.get(ctx, &k.CreatedAt, `
			INSERT INTO api_keys (id, workspace_id, name, prefix, hash, created_by)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
			k.ID, k.WorkspaceID, k.Name, k.Prefix, k.Hash, k.CreatedBy)
		if err != nil {
			return fmt.Errorf("store: create api key: %w", err)
		}
		return nil
	})
}

// APIKeyByHash finds a key, revoked or not, by the SHA-256 of its text.
func (q Queries) APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error) {
	var at struct {
		Workspace string `db:"workspace"`
		KeyID     string `db:"key_id"`
	}
	if err := q.get(ctx, &at, `SELECT workspace, key_id FROM api_key_hashes WHERE hash = $1`, hash); err != nil {
		return nil, fmt.Errorf("store: api key: %w", err)
	}
	var k APIKey
	if err := q.get(ctx, &k, `SELECT * FROM api_keys WHERE workspace_id = $1 AND id = $2`, at.Workspace, at.KeyID); err != nil {
		return nil, fmt.Errorf("store: api key: %w", err)
	}
	return &k, nil
}

// TouchAPIKey records that a key was used at t.
func (q Queries) TouchAPIKey(ctx context.Context, workspaceID, id string, t time.Time) error {
	_, err := q.exec(ctx, `UPDATE api_keys SET last_used_at = $3 WHERE workspace_id = $1 AND id = $2`, workspaceID, id, t)
	return err
}

// ListAPIKeys lists a workspace's keys, newest first.
func (q Queries) ListAPIKeys(ctx context.Context, workspaceID string) ([]APIKey, error) {
	var keys []APIKey
	err := q.sel(ctx, &keys, `SELECT * FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC`, workspaceID)
	return keys, err
}

// RevokeAPIKey revokes a key of the workspace; revoking twice is a no-op.
func (q Queries) RevokeAPIKey(ctx context.Context, workspaceID, id string) error {
	n, err := q.exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3::timestamptz) WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id, time.Now().UTC()) // this process's time: Citus takes no now() inside a COALESCE
	if err != nil {
		return fmt.Errorf("store: revoke api key: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
