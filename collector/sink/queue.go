package sink

import (
	"context"
	"sync"
)

// Queue holds encoded blocks between a producer (the batcher) and one consumer (the sender). It is
// the seam for the durable spool: NewSpoolQueue puts collector/spool here without the sinks
// changing. A block leaves the queue only when the consumer acknowledges it after a successful send,
// so a crash between taking a block and sending it cannot lose it (a durable queue replays it).
// Implementations must be safe for many producer goroutines and one consumer.
type Queue interface {
	// Push appends a block and takes ownership of it. It never waits for the consumer: a bounded
	// queue makes room by dropping its oldest blocks and counting them.
	Push(block []byte) error
	// Next returns the oldest block, waiting until there is one or ctx ends. The block stays
	// queued; calling Next again before Ack returns it (or, if a cap dropped it meanwhile, the
	// new oldest) again.
	Next(ctx context.Context) ([]byte, error)
	// Ack removes the block the last Next returned. It does nothing when that block is gone
	// already (dropped at a cap), so it never removes a block that was not sent.
	Ack()
	// Len and Size report the blocks and payload bytes held, for the queue-depth metrics.
	Len() int
	Size() int64
	// Close is called once after the last Next or Ack; a durable queue persists what it holds,
	// an in-memory one reports it as dropped.
	Close() error
}

// MemQueue is a bounded in-memory Queue that drops the oldest blocks beyond maxBytes. What it holds
// is lost with the process; use a spool (NewSpoolQueue) to survive one.
type MemQueue struct {
	mu       sync.Mutex
	blocks   [][]byte
	size     int64
	maxBytes int64
	head     uint64        // position of blocks[0] in the queue's history
	given    uint64        // position of the block the last Next returned
	handed   bool          // a block was handed out by Next and not yet acknowledged
	ready    chan struct{} // signalled (non-blocking) on every Push
	onDrop   func(reason string, blocks int, bytes int64)
}

// Drop reasons passed to a MemQueue's onDrop.
const (
	DropQueueFull = "queue_full" // the oldest blocks made room for a new one
	DropShutdown  = "shutdown"   // still held at Close
)

// NewMemQueue returns a queue holding at most maxBytes; onDrop (may be nil) is told what it threw
// away and why.
func NewMemQueue(maxBytes int64, onDrop func(reason string, blocks int, bytes int64)) *MemQueue {
	if onDrop == nil {
		onDrop = func(string, int, int64) {}
	}
	return &MemQueue{maxBytes: maxBytes, ready: make(chan struct{}, 1), onDrop: onDrop}
}

func (q *MemQueue) Push(block []byte) error {
	q.mu.Lock()
	q.blocks = append(q.blocks, block)
	q.size += int64(len(block))
	dropped, droppedBytes := q.trimLocked()
	q.mu.Unlock()
	if dropped > 0 {
		q.onDrop(DropQueueFull, dropped, droppedBytes)
	}
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// trimLocked drops the oldest blocks while over the cap, always keeping the newest one.
func (q *MemQueue) trimLocked() (int, int64) {
	n, bytes := 0, int64(0)
	for q.size > q.maxBytes && len(q.blocks) > 1 {
		q.size -= int64(len(q.blocks[0]))
		bytes += int64(len(q.blocks[0]))
		q.popLocked()
		n++
	}
	return n, bytes
}

func (q *MemQueue) popLocked() {
	q.blocks[0] = nil
	q.blocks = q.blocks[1:]
	q.head++
}

func (q *MemQueue) Next(ctx context.Context) ([]byte, error) {
	for {
		q.mu.Lock()
		if len(q.blocks) > 0 {
			b := q.blocks[0]
			q.given, q.handed = q.head, true
			q.mu.Unlock()
			return b, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.ready:
		}
	}
}

func (q *MemQueue) Ack() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.handed || len(q.blocks) == 0 || q.given != q.head {
		return // nothing handed out, or the block handed out was dropped meanwhile
	}
	q.handed = false
	q.size -= int64(len(q.blocks[0]))
	q.popLocked()
}

func (q *MemQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.blocks)
}

func (q *MemQueue) Size() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.size
}

// Close empties the queue: what an in-memory queue still holds at exit is lost, and reported as
// dropped so the loss is counted, never silent.
func (q *MemQueue) Close() error {
	q.mu.Lock()
	n, size := len(q.blocks), q.size
	q.blocks, q.size = nil, 0
	q.mu.Unlock()
	if n > 0 {
		q.onDrop(DropShutdown, n, size)
	}
	return nil
}
