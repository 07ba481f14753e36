package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotLeader is returned by CommitCycle when the leadership it was given has been lost.
var ErrNotLeader = errors.New("not the alerting leader")

// The advisory lock of the alerting leader, in the two-key form so pg_locks shows it as
// (classid, objid) with objsubid 2; migrations use the one-key form, so they never collide.
const leaderKey1, leaderKey2 = 0x77617264, 0x616c7274 // "ward", "alrt"

// Leadership is the alerting leader's advisory lock, held by a connection of its own outside the
// pool: the lock lives exactly as long as that session, so a leader whose process dies or whose
// connection breaks stops being leader at once, and nobody else can release it by accident.
type Leadership struct {
	conn   *pgx.Conn
	pid    uint32
	k1, k2 int32
	lost   chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
	once   sync.Once
}

// TryLeadership takes the leader lock if it is free and returns nil, nil if another session holds
// it. While held, a goroutine checks the session every check interval; when the check fails the
// connection is closed and Lost is closed.
func (s *Store) TryLeadership(ctx context.Context, check time.Duration) (*Leadership, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = cfg.RuntimeParams["application_name"] + " leader"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect for the leader lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(leaderKey1), int32(leaderKey2)).Scan(&ok); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("cannot try the leader lock: %w", err)
	}
	if !ok {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, nil
	}
	l := &Leadership{conn: conn, pid: conn.PgConn().PID(), k1: leaderKey1, k2: leaderKey2,
		lost: make(chan struct{}), stop: make(chan struct{})}
	l.done.Add(1)
	go l.watch(check)
	return l, nil
}

func (l *Leadership) watch(check time.Duration) {
	defer l.done.Done()
	defer close(l.lost)
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), check)
			err := l.conn.Ping(ctx)
			cancel()
			if err != nil {
				cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
				_ = l.conn.Close(cctx)
				ccancel()
				return
			}
		}
	}
}

// Lost is closed when leadership ends, lost or released.
func (l *Leadership) Lost() <-chan struct{} { return l.lost }

// Release gives the lock up and closes its session, and waits for the watcher. The lock is
// unlocked explicitly first: the server ends a closed session a moment after the client has
// moved on, and until then the lock would still look held to the next candidate.
func (l *Leadership) Release() {
	l.once.Do(func() {
		close(l.stop)
		l.done.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, l.k1, l.k2) // a dead session holds nothing anyway
		_ = l.conn.Close(ctx)
		cancel()
	})
}

// ended says whether this process already knows the leadership is over (released or lost).
func (l *Leadership) ended() bool {
	select {
	case <-l.lost:
		return true
	default:
		return false
	}
}
