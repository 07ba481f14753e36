package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/wardops/wardops/model"
)

// CreateToken stores a new token by the hash of its secret. A duplicate name gives model.ErrConflict.
func (s *Store) CreateToken(ctx context.Context, name, scope string, hash []byte) (model.Token, error) {
	t := model.Token{Name: name, Scope: scope}
	err := s.pool.QueryRow(ctx, `INSERT INTO api_tokens (name, token_hash, scope) VALUES ($1, $2, $3)
		RETURNING id, created_at`, name, hash, scope).Scan(&t.ID, &t.CreatedAt)
	if err != nil {
		return model.Token{}, fmt.Errorf("cannot create token %q: %w", name, interpretError(err))
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}

// UseToken looks a token up by the hash of its secret and records that it was used, in one
// statement. A revoked or unknown token gives model.ErrNotFound.
func (s *Store) UseToken(ctx context.Context, hash []byte) (model.Token, error) {
	var t model.Token
	err := s.pool.QueryRow(ctx, `UPDATE api_tokens SET last_used_at = now()
		WHERE token_hash = $1 AND revoked_at IS NULL
		RETURNING id, name, scope, created_at, last_used_at`, hash).Scan(&t.ID, &t.Name, &t.Scope, &t.CreatedAt, &t.LastUsedAt)
	if err != nil {
		return model.Token{}, fmt.Errorf("cannot look up token: %w", interpretError(err))
	}
	return t, nil
}

// RevokeToken marks a token revoked by name.
func (s *Store) RevokeToken(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL`, name)
	if err != nil {
		return fmt.Errorf("cannot revoke token %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot revoke token %q: %w", name, model.ErrNotFound)
	}
	return nil
}

// ListTokens returns every token that is not revoked, by name; secrets are not stored, so none
// can be listed.
func (s *Store) ListTokens(ctx context.Context) ([]model.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, scope, created_at, last_used_at FROM api_tokens
		WHERE revoked_at IS NULL ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("cannot list tokens: %w", err)
	}
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[model.Token])
	if err != nil {
		return nil, fmt.Errorf("cannot list tokens: %w", err)
	}
	return ts, nil
}
