package bench

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// postgres creates and drops the benchmark's databases on the machine's PostgreSQL with psql,
// so nothing outside store/ links pgx.
type postgres struct {
	admin string // URL of the maintenance database
}

// create makes an empty database, dropping a leftover of the same name first.
func (p postgres) create(ctx context.Context, name string) (string, error) {
	if err := p.drop(ctx, name); err != nil {
		return "", err
	}
	if err := p.psql(ctx, fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		return "", err
	}
	u, err := url.Parse(p.admin)
	if err != nil {
		return "", fmt.Errorf("bad PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// drop removes a database even while a killed collector's sessions linger (WITH (FORCE), PG 13+).
func (p postgres) drop(ctx context.Context, name string) error {
	return p.psql(ctx, fmt.Sprintf(`DROP DATABASE IF EXISTS %q WITH (FORCE)`, name))
}

func (p postgres) psql(ctx context.Context, sql string) error {
	_, err := p.query(ctx, p.admin, sql)
	return err
}

// query runs sql on the database at dbURL and returns its unaligned, tuples-only output (one row a
// line, fields separated by '|').
func (p postgres) query(ctx context.Context, dbURL, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "psql", dbURL, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("cannot run %.200q on PostgreSQL: %w: %s", sql, err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}
