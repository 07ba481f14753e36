package push

import (
	"context"
	"sync"
)

// Queue holds encoded blocks (gzipped Prometheus text) between the batcher and the sender. It is
// the seam for issue 4's durable spool: an on-disk Queue goes in here without the writer changing.
// Implementations must be safe for one producer side (many goroutines) and one consumer.
type Queue interface {
	// Push appends a block. It never blocks: a bounded queue makes room by dropping its oldest
	// blocks and counting them.
	Push(block []byte) error
	// Pop removes and returns the oldest block, waiting until there is one or ctx ends.
	Pop(ctx context.Context) ([]byte, error)
	// Requeue puts back at the head a block popped but not sent, so it goes first next time.
	Requeue(block []byte) error
	// Len and Size report the blocks and bytes held, for the queue-depth metrics.
	Len() int
	Size() int64
	// Close is called once after the last Pop or Requeue; a durable queue persists what it holds.
	Close() error
}

// MemQueue is a bounded in-memory Queue that drops the oldest blocks beyond maxBytes.
type MemQueue struct {
	mu       sync.Mutex
	blocks   [][]byte
	size     int64
	maxBytes int64
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
		b := q.blocks[0]
		q.blocks[0] = nil
		q.blocks = q.blocks[1:]
		q.size -= int64(len(b))
		n++
		bytes += int64(len(b))
	}
	return n, bytes
}

func (q *MemQueue) Pop(ctx context.Context) ([]byte, error) {
	for {
		q.mu.Lock()
		if len(q.blocks) > 0 {
			b := q.blocks[0]
			q.blocks[0] = nil
			q.blocks = q.blocks[1:]
			q.size -= int64(len(b))
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

func (q *MemQueue) Requeue(block []byte) error {
	q.mu.Lock()
	q.blocks = append([][]byte{block}, q.blocks...)
	q.size += int64(len(block))
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
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
