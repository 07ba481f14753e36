// Package store is wardops' PostgreSQL layer: the connection pool, migrations and one file per
// table family. It is the only package that imports pgx; callers see its types and model.ErrNotFound.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/model"
)

// Options configures the pool. The settings' defaults live in config (WARDOPS_DB_*); a zero value
// here leaves pgx's or PostgreSQL's own behaviour (no connect or statement timeout, pgx's pool
// size and lifetimes), which only tests rely on.
type Options struct {
	URL               string
	MaxConns          int32
	ConnectTimeout    time.Duration
	MaxConnLifetime   time.Duration
	HealthCheckPeriod time.Duration
	StatementTimeout  time.Duration
	IdleInTxTimeout   time.Duration
	ApplicationName   string // "" is "wardops"
	// Keys seal SNMP secrets on write and open them for LoadFleet. nil: a write carrying a secret
	// fails with model.ErrNoSecretKey, and sealed rows cannot be loaded.
	Keys *seal.Keyring
}

// Store wraps the pool. All methods are safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	keys *seal.Keyring
}

// Open builds the pool and checks that the server answers.
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		// The URL may carry a password: never echo it.
		return nil, errors.New("cannot parse database URL")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.ApplicationName == "" {
		o.ApplicationName = "wardops"
	}
	if o.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	if o.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = o.MaxConnLifetime
		cfg.MaxConnLifetimeJitter = o.MaxConnLifetime / 10
	}
	if o.HealthCheckPeriod > 0 {
		cfg.HealthCheckPeriod = o.HealthCheckPeriod
	}
	rp := cfg.ConnConfig.RuntimeParams
	if o.StatementTimeout > 0 {
		rp["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
	}
	if o.IdleInTxTimeout > 0 {
		rp["idle_in_transaction_session_timeout"] = strconv.FormatInt(o.IdleInTxTimeout.Milliseconds(), 10)
	}
	rp["application_name"] = o.ApplicationName
	rp["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot create database pool: %w", err)
	}
	pctx, cancel := ctx, context.CancelFunc(func() {})
	if o.ConnectTimeout > 0 {
		pctx, cancel = context.WithTimeout(ctx, o.ConnectTimeout)
	}
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("cannot connect to database %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	return &Store{pool: pool, keys: o.Keys}, nil
}

// Close waits for acquired connections to be released and closes the pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that a connection can be had and the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("cannot ping database: %w", err)
	}
	return nil
}

// PoolStats reports acquired and total connections, for health output and the pool-leak test.
type PoolStats struct {
	Acquired, Idle, Total, Max int32
}

// Stats returns the pool's counters.
func (s *Store) Stats() PoolStats {
	st := s.pool.Stat()
	return PoolStats{Acquired: st.AcquiredConns(), Idle: st.IdleConns(), Total: st.TotalConns(), Max: st.MaxConns()}
}

// WithTx runs fn in a transaction. The connection is released on every path, a panic included:
// the deferred rollback runs on a fresh context so a cancelled caller still ends the transaction.
func (s *Store) WithTx(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("cannot begin transaction: %w", interpretError(err))
	}
	defer func() {
		p := recover()
		if err != nil || p != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = tx.Rollback(rctx)
			cancel()
		}
		if p != nil {
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("cannot commit: %w", interpretError(err))
	}
	return nil
}

// interpretError maps pgx errors onto the store's own.
func interpretError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return model.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", "23503":
			return &model.ConflictError{Constraint: pe.ConstraintName, Detail: pe.Detail}
		}
	}
	return err
}

// CreateDatabase creates database name on the server adminURL points at, unless it exists: the
// first step of a private server for `wardops dev`.
func CreateDatabase(ctx context.Context, adminURL, name string) error {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("cannot connect to create database %s: %w", name, err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("cannot look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := c.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("cannot create database %s: %w", name, err)
	}
	return nil
}
