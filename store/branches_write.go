package store

import (
	"context"
	"fmt"

	"github.com/wardops/wardops/model"
)

const branchColumns = `id, name, region, created_at, updated_at`

// GetBranch returns one branch or model.ErrNotFound.
func (s *Store) GetBranch(ctx context.Context, id int64) (model.Branch, error) {
	var b model.Branch
	err := s.pool.QueryRow(ctx, `SELECT `+branchColumns+` FROM branches WHERE id = $1`, id).
		Scan(&b.ID, &b.Name, &b.Region, &b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return model.Branch{}, fmt.Errorf("cannot get branch %d: %w", id, interpretError(err))
	}
	return b, nil
}

// CreateBranch inserts a branch; a taken name gives model.ErrConflict.
func (s *Store) CreateBranch(ctx context.Context, name, region string) (model.Branch, error) {
	var b model.Branch
	err := s.pool.QueryRow(ctx, `INSERT INTO branches (name, region) VALUES ($1, $2) RETURNING `+branchColumns, name, region).
		Scan(&b.ID, &b.Name, &b.Region, &b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return model.Branch{}, fmt.Errorf("cannot create branch %q: %w", name, interpretError(err))
	}
	return b, nil
}

// UpdateBranch renames or moves a branch; an unknown id gives model.ErrNotFound, a taken name model.ErrConflict.
func (s *Store) UpdateBranch(ctx context.Context, id int64, name, region string) (model.Branch, error) {
	var b model.Branch
	err := s.pool.QueryRow(ctx, `UPDATE branches SET name = $2, region = $3, updated_at = now() WHERE id = $1
		RETURNING `+branchColumns, id, name, region).Scan(&b.ID, &b.Name, &b.Region, &b.CreatedAt, &b.UpdatedAt)
	if err != nil {
		return model.Branch{}, fmt.Errorf("cannot update branch %d: %w", id, interpretError(err))
	}
	return b, nil
}

// DeleteBranch deletes an empty branch; one that still has devices gives model.ErrConflict.
func (s *Store) DeleteBranch(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM branches WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("cannot delete branch %d: %w", id, interpretError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cannot delete branch %d: %w", id, model.ErrNotFound)
	}
	return nil
}
