package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardops/wardops/model"
)

// auditLock is the transaction advisory lock that serialises appends to the audit chain: the
// head is read and the next row written under it, so two concurrent changes cannot both chain
// onto the same head ("wdaudit" in ASCII).
const auditLock int64 = 0x7764617564697400

// zeroHash is the prev_hash of the first row.
var zeroHash = make([]byte, sha256.Size)

// AuditContent is the canonical content of a row that its hash covers: a JSON array of seq, time
// (RFC 3339 in UTC, microseconds, as PostgreSQL keeps it), actor, action, object kind and id, and
// the detail text. JSON strings make the fields unambiguous whatever they contain.
func AuditContent(e model.AuditEntry) []byte {
	b, _ := json.Marshal([]any{e.Seq, e.At.UTC().Format("2006-01-02T15:04:05.000000Z"), e.Actor, e.Action,
		e.ObjectKind, e.ObjectID, e.Detail}) // a []any of strings and an int cannot fail to marshal
	return b
}

// AuditHash is SHA-256(prev || AuditContent(e)).
func AuditHash(prev []byte, e model.AuditEntry) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(AuditContent(e))
	return h.Sum(nil)
}

// appendAudit appends one row to the chain inside tx, so the change it records and the record
// commit or roll back together.
func appendAudit(ctx context.Context, tx pgx.Tx, c model.AuditChange) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLock); err != nil {
		return fmt.Errorf("cannot lock audit chain: %w", err)
	}
	detail := c.Detail
	if detail == nil {
		detail = map[string]any{}
	}
	d, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("cannot encode audit detail of %s: %w", c.Action, err)
	}
	e := model.AuditEntry{At: time.Now().UTC().Truncate(time.Microsecond), Actor: c.Actor, Action: c.Action,
		ObjectKind: c.ObjectKind, ObjectID: c.ObjectID, Detail: string(d), PrevHash: zeroHash}
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&e.Seq, &e.PrevHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("cannot read audit chain head: %w", err)
	}
	e.Seq++
	e.Hash = AuditHash(e.PrevHash, e)
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (seq, at, actor, action, object_kind, object_id, detail, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, e.Seq, e.At, e.Actor, e.Action, e.ObjectKind, e.ObjectID, e.Detail,
		e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("cannot append audit row %d: %w", e.Seq, err)
	}
	return nil
}

// AuditLog returns audit rows with seq above after, oldest first, at most limit.
func (s *Store) AuditLog(ctx context.Context, after int64, limit int) ([]model.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, at, actor, action, object_kind, object_id, detail, prev_hash, hash
		FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("cannot read audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("cannot read audit log: %w", err)
	}
	return out, nil
}

func scanAudit(r pgx.CollectableRow) (model.AuditEntry, error) {
	var e model.AuditEntry
	err := r.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectKind, &e.ObjectID, &e.Detail, &e.PrevHash, &e.Hash)
	e.At = e.At.UTC()
	return e, err
}

// VerifyAudit walks the whole chain in seq order, a page at a time, recomputing every hash. It
// returns how many rows it checked and, for the first row that does not fit, a *model.ChainError.
// A chain cut at its end (the newest rows deleted) still verifies: compare the count or the head
// hash with a copy kept elsewhere to catch that.
func (s *Store) VerifyAudit(ctx context.Context) (int64, []byte, error) {
	const page = 5000
	var n, last int64
	prev := zeroHash
	for {
		es, err := s.AuditLog(ctx, last, page)
		if err != nil {
			return n, prev, err
		}
		for _, e := range es {
			switch {
			case e.Seq != last+1:
				return n, prev, &model.ChainError{Seq: e.Seq, Reason: fmt.Sprintf("follows seq %d: rows are missing", last)}
			case !bytes.Equal(e.PrevHash, prev):
				return n, prev, &model.ChainError{Seq: e.Seq, Reason: "prev_hash is not the hash of the row before"}
			case !bytes.Equal(e.Hash, AuditHash(prev, e)):
				return n, prev, &model.ChainError{Seq: e.Seq, Reason: "hash does not match the row's content"}
			}
			prev, last = e.Hash, e.Seq
			n++
		}
		if len(es) < page {
			return n, prev, nil
		}
	}
}
