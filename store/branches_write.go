package store

import (
	"context"
	"fmt"
)

const branchColumns = `id, name, region, created_at, updated_at`

// GetBranch returns one branch or ErrNotFound.
func (s *Store) GetBranch(ctx context.Context, id int64) (Branch, error) {
	var b Branch
	err := s.pool.QueryRow(ctx, `SELECT `+branchColumns+` FROM branches WHERE id = $1`, id).
		Scan(&b.ID, &b.Name, &b.Region, &b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return Branch{}, fmt.Errorf("cannot get branch %d: %w", id, interpretError(err))
	}
	return b, nil
}

// CreateBranch inserts a branch; a taken name gives ErrConflict.
func (s *Store) CreateBranch(ctx context.Context, name, region string) (Branch, error) {
	var b Branch
	err := s.pool.QueryRow(ctx, `INSERT INTO branches (name, region) VALUES ($1, $2) RETURNING `+branchColumns, name, region).
		Scan(&b.ID, &b.Name, &b.Region, &b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return Branch{}, fmt.Errorf("cannot create branch %q: %w", name, interpretError(err))
	}
	return b, nil
}

// UpdateBranch renames or moves a branch; an unknown id gives ErrNotFound, a taken name ErrConflict.
func (s *Store) UpdateBranch(ctx context.Context, id int64, name, region string) (Branch, error) {
	var b Branch
	err := s.pool.QueryRow(ctx, `UPDATE branches SET name = $2, region = $3, updated_at = now() WHERE id = $1
		RETURNING `+branchColumns, id, name, region).Scan(&b.ID, &b.Name, &b.Region, &b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return Branch{}, fmt.Errorf("cannot update branch %d: %w", id, interpretError(err))
	}
	return b, nil
}

// DeleteBranch deletes an empty branch; one that still has devices gives ErrConflict.
func (s *Store) DeleteBranch(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM branches WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("cannot delete branch %d: %w", id, interpretError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot delete branch %d: %w", id, ErrNotFound)
	}
	return nil
}
