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
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "psql", p.admin, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cannot run %q on PostgreSQL: %w: %s", sql, err, strings.TrimSpace(string(out)))
	}
	return nil
}
