package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/secret"
)

// Secrets at rest. Every secret column is written through Queries.secrets
// (Seal) and read through it (Open), so the database holds only sealed
// values ("v1:<key id>:…", internal/secret); migration 00009 makes the
// database refuse any other value from then on. The rows written in plain
// text before are sealed here, in Go (SQL has no key), when `partli
// migrate` and `partli serve` start; `partli secrets rotate` reseals every
// row under the current key.

// secretTables are the tables with secret columns, with the key of their
// rows. A row's secrets are sealed in one UPDATE: the checks of migration
// 00009 hold for every column of a row written.
var secretTables = []struct {
	table, key string
	columns    []string
}{
	{"webhook_endpoints", "id", []string{"secret", "previous_secret"}},
	{"stripe_connections", "workspace_id", []string{"webhook_secret", "secret_key"}},
}

// sealedPattern matches a sealed value (secret.SealedBy), in SQL.
const sealedPattern = `'^v1:[0-9a-f]{8}:'`

// secretInventory counts the stored secrets by the id of the key that
// sealed them ("" for plain text). Tables or columns the schema does not
// have yet (a database not migrated) hold none.
func (s *Store) secretInventory(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range secretTables {
		for _, col := range t.columns {
			var rows []struct {
				KeyID string `db:"key_id"`
				N     int    `db:"n"`
			}
			err := s.sel(ctx, &rows, `SELECT CASE WHEN `+col+` ~ `+sealedPattern+` THEN substr(`+col+`, 4, 8) ELSE '' END AS key_id,
				count(*) AS n FROM `+t.table+` WHERE `+col+` <> '' GROUP BY 1`)
			var pqErr *pq.Error
			if errors.As(err, &pqErr) && (pqErr.Code == "42P01" || pqErr.Code == "42703") { // undefined table, column
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("store: secret inventory: %w", err)
			}
			for _, r := range rows {
				out[r.KeyID] += r.N
			}
		}
	}
	return out, nil
}

// CheckSecretKeys fails when the store's keys cannot open every stored
// secret: no key while secrets are stored, or secrets sealed under a key
// that is neither the current nor the previous one. It changes nothing,
// and works on a database at any migration.
func (s *Store) CheckSecretKeys(ctx context.Context) error {
	inv, err := s.secretInventory(ctx)
	if err != nil {
		return err
	}
	return s.checkKeys(inv)
}

// CheckPlainSecretsSealable is CheckSecretKeys for `partli migrate`, which
// needs no key but to seal secrets stored in plain text: it fails only when
// there are some, and the store's keys are missing or are not those that
// sealed the rest (which would leave secrets under two unrelated keys).
func (s *Store) CheckPlainSecretsSealable(ctx context.Context) error {
	inv, err := s.secretInventory(ctx)
	if err != nil || inv[""] == 0 {
		return err
	}
	return s.checkKeys(inv)
}

func (s *Store) checkKeys(inv map[string]int) error {
	total := 0
	for _, n := range inv {
		total += n
	}
	if s.secrets == nil {
		if total == 0 {
			return nil
		}
		if inv[""] == total {
			return fmt.Errorf("%w: the database holds %d webhook or Stripe signing secret(s) in plain text, which Partli now stores sealed: "+
				"set PARTLI_ENCRYPTION_KEY to a new key (32 random bytes in base64: openssl rand -base64 32) and keep it safe", secret.ErrNoKey, total)
		}
		return fmt.Errorf("%w: the database holds %d sealed webhook or Stripe signing secret(s): set PARTLI_ENCRYPTION_KEY to the key that sealed them",
			secret.ErrNoKey, total)
	}
	var unknown []string
	for id, n := range inv {
		if id != "" && !s.secrets.Has(id) {
			unknown = append(unknown, fmt.Sprintf("%d under key %s", n, id))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%w: stored secrets are sealed %s, which is neither PARTLI_ENCRYPTION_KEY (key %s) nor PARTLI_ENCRYPTION_KEY_PREVIOUS",
			secret.ErrUnknownKey, strings.Join(unknown, ", "), s.secrets.CurrentID())
	}
	return nil
}

// SealPlainSecrets seals the secrets stored in plain text (by a Partli from
// before secrets were sealed) under the current key and returns how many
// rows it sealed.
func (s *Store) SealPlainSecrets(ctx context.Context) (int, error) {
	return s.reseal(ctx, false)
}

// ResealSecrets seals every stored secret that is not sealed under the
// current key — in plain text, or under the previous key — under the
// current key, and returns how many rows it resealed. Run after a key
// rotation, once every replica has the new key; it first checks that
// every secret can be opened, and changes nothing when one cannot.
func (s *Store) ResealSecrets(ctx context.Context) (int, error) {
	if s.secrets == nil {
		return 0, secret.ErrNoKey
	}
	if err := s.CheckSecretKeys(ctx); err != nil {
		return 0, err
	}
	return s.reseal(ctx, true)
}

// reseal seals the rows with a secret in plain text, and, with all, those
// sealed under another key than the current one. Each row is updated only
// if its secrets are still the ones read, so a secret rotated meanwhile,
// or a replica sealing the same row, is never overwritten.
func (s *Store) reseal(ctx context.Context, all bool) (int, error) {
	current := s.secrets.CurrentID()
	sealed := 0
	for _, t := range secretTables {
		var stale []string
		for _, col := range t.columns {
			stale = append(stale, `(`+col+` <> '' AND (`+col+` !~ `+sealedPattern+` OR ($1 AND substr(`+col+`, 4, 8) <> $2)))`)
		}
		var rows []struct {
			Key    string         `db:"k"`
			Values pq.StringArray `db:"v"`
		}
		err := s.sel(ctx, &rows, `SELECT `+t.key+` AS k, ARRAY[`+strings.Join(t.columns, ", ")+`] AS v FROM `+t.table+`
			WHERE `+strings.Join(stale, " OR "), all, current)
		if err != nil {
			return sealed, fmt.Errorf("store: secrets of %s: %w", t.table, err)
		}
		for _, r := range rows {
			args := []any{r.Key}
			var set, same []string
			for i, col := range t.columns {
				v, err := s.resealValue(r.Values[i], all, current)
				if err != nil {
					return sealed, fmt.Errorf("store: secrets of %s %s: %w", t.table, r.Key, err)
				}
				args = append(args, v, r.Values[i])
				set = append(set, fmt.Sprintf("%s = $%d", col, len(args)-1))
				same = append(same, fmt.Sprintf("%s = $%d", col, len(args)))
			}
			n, err := s.exec(ctx, `UPDATE `+t.table+` SET `+strings.Join(set, ", ")+`
				WHERE `+t.key+` = $1 AND `+strings.Join(same, " AND "), args...)
			if err != nil {
				return sealed, fmt.Errorf("store: seal secrets of %s %s: %w", t.table, r.Key, err)
			}
			sealed += int(n)
		}
	}
	return sealed, nil
}

// resealValue is v sealed under the current key: plain text sealed, a
// value sealed under another key opened and sealed again (with all), any
// other value kept.
func (s *Store) resealValue(v string, all bool, current string) (string, error) {
	id, isSealed := secret.SealedBy(v)
	switch {
	case v == "", isSealed && (id == current || !all):
		return v, nil
	case isSealed:
		plain, err := s.secrets.Open(v)
		if err != nil {
			return "", err
		}
		return s.secrets.Seal(plain)
	}
	return s.secrets.Seal(v)
}
