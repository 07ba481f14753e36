package sink

import (
	"context"
	"sync"

	"github.com/wardops/wardops/collector/spool"
)

// SpoolQueue adapts a durable spool.Queue to the Queue seam: blocks wait in the spool's bounded
// memory part, spill to its segment files while the backend is down, and leave only on Ack, so
// they survive a SIGTERM (Close spools them) and a SIGKILL (replayed by the next Open).
type SpoolQueue struct {
	q *spool.Queue

	mu   sync.Mutex
	last spool.Block // what the last Next returned, for Ack
	has  bool
}

// NewSpoolQueue wraps q; the writer that gets it owns it and closes it.
func NewSpoolQueue(q *spool.Queue) *SpoolQueue { return &SpoolQueue{q: q} }

func (s *SpoolQueue) Push(block []byte) error { return s.q.Push(block) }

func (s *SpoolQueue) Next(ctx context.Context) ([]byte, error) {
	b, err := s.q.Next(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.last, s.has = b, true
	s.mu.Unlock()
	return b.Data, nil
}

// Ack acknowledges the block of the last Next; the spool ignores it if its cap dropped that block.
func (s *SpoolQueue) Ack() {
	s.mu.Lock()
	b, ok := s.last, s.has
	s.last, s.has = spool.Block{}, false
	s.mu.Unlock()
	if ok {
		s.q.Ack(b)
	}
}

func (s *SpoolQueue) Len() int     { return s.q.Len() }
func (s *SpoolQueue) Size() int64  { return s.q.Bytes() }
func (s *SpoolQueue) Close() error { return s.q.Close() }
