// Package spool is a durable FIFO of opaque blocks (encoded, compressed batches of samples or
// ping_results rows) for the time a backend is down, so nothing is lost.
//
// Blocks are pushed into a bounded in-memory part and move to append-only segment files under a
// directory when the memory bound is hit or when they have waited longer than FlushInterval, so a
// consumer that keeps up never touches the disk and one that is stalled has everything older than
// about two flush intervals on disk. The disk part is capped; at the cap the oldest segment is
// dropped and exactly what it held is counted (wardops_spool_dropped_*_total{reason="cap"}) and
// logged. Blocks come out oldest first and leave only when the consumer acknowledges them.
//
// Durability: a frame is handed to the kernel with write(2) as it is spilled, so a SIGKILLed process
// loses only blocks still in memory (pushed within the last FlushInterval or two and not yet
// delivered); segment files are fsynced once per FlushInterval and on Close, so an operating-system
// crash or power loss may lose up to one more interval. Syncing every frame would make a stalled
// backend cost a disk flush per batch for no gain against the failure we care about (a restart).
// Delivery is at-least-once: the reader position is persisted once per FlushInterval, so a crash may
// replay blocks acknowledged in the last interval.
//
// The design follows VictoriaMetrics lib/persistentqueue (memory first, file chunks, oldest dropped
// at a cap) with framed, checksummed blocks so a damaged file is skipped block-exactly.
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/internal/logthrottle"
)

// ErrClosed is returned by Push and Next after Close.
var ErrClosed = errors.New("spool closed")

// ErrTooLarge is returned by Push for a block larger than MaxBlockBytes; the block is counted as
// dropped.
var ErrTooLarge = errors.New("block too large for spool")

// Options tune a Queue. Zero values take the defaults in brackets.
type Options struct {
	// Name labels metrics and logs, e.g. "vm" or "ping_results". [dir's base name]
	Name string
	// MaxDiskBytes caps the segment files (WARDOPS_SPOOL_MAX_SIZE); the oldest are dropped beyond
	// it. [1 GiB]
	MaxDiskBytes int64
	// MaxMemBytes bounds the in-memory part; beyond it the oldest in-memory blocks are spilled. [8 MiB]
	MaxMemBytes int64
	// SegmentBytes is the size at which a new segment file is started; the cap drops whole
	// segments, so it is also the granularity of drops. [MaxDiskBytes/16, within 4 KiB..64 MiB]
	SegmentBytes int64
	// MaxBlockBytes refuses larger blocks. [64 MiB, at most what fits in MaxDiskBytes]
	MaxBlockBytes int
	// FlushInterval is how often waiting in-memory blocks are spilled and segments fsynced. [1 s]
	FlushInterval time.Duration
	// Metrics receives the self-metrics; nil means a private set.
	Metrics *metrics.Set
	// Log receives open/close summaries and throttled drop and corruption reports; nil discards.
	Log *slog.Logger
}

func (o *Options) setDefaults(dir string) {
	if o.Name == "" {
		o.Name = filepath.Base(dir)
	}
	if o.MaxDiskBytes <= 0 {
		o.MaxDiskBytes = 1 << 30
	}
	if o.MaxMemBytes <= 0 {
		o.MaxMemBytes = 8 << 20
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(max(o.MaxDiskBytes/16, 4<<10), 64<<20)
	}
	maxFit := o.MaxDiskBytes - fileHeaderLen - frameHeaderLen
	if o.MaxBlockBytes <= 0 {
		o.MaxBlockBytes = 64 << 20
	}
	o.MaxBlockBytes = int(min(int64(o.MaxBlockBytes), max(maxFit, 0), 1<<31-1))
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.Metrics == nil {
		o.Metrics = metrics.NewSet()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Block is one queued payload. Data must not be modified; pass the Block back to Ack.
type Block struct {
	Data []byte
	pos  uint64 // position of the block in the queue's history, to match Ack to Next
}

type memBlock struct {
	data []byte
	at   time.Time // when it was pushed: blocks older than FlushInterval are spilled
}

// Queue is a durable FIFO of blocks. Push is safe from any goroutine; Next and Ack are for a single
// consumer, which sees the oldest block until it acknowledges it.
type Queue struct {
	dir  string
	opts Options
	log  *slog.Logger
	m    *queueMetrics

	dropLog, corruptLog, diskErrLog *logthrottle.Throttle

	mu     sync.Mutex
	closed bool
	mem    []memBlock // oldest first; all newer than every block on disk
	memB   int64
	segs   []*segment // oldest first; the last is appended to while w is open
	w      *os.File   // append handle of the last segment, nil when a new one must be started
	toSync []*os.File // rotated-out append handles, synced and closed by the flusher
	dirty  bool       // w has frames not yet fsynced
	diskB  int64      // file bytes of all segments
	nextSq uint64     // sequence number of the next segment file

	head     *Block // the first disk block, read and verified, until acknowledged
	headNext int64  // offset after it
	headPos  uint64 // position of the oldest block; advanced by Ack and by drops
	posDirty bool   // the persisted reader position is stale

	notify chan struct{} // a block arrived; buffered, one waiting consumer
	stop   chan struct{}
	wg     sync.WaitGroup
}

// Open opens (creating if needed) the spool in dir and replays what a previous process left there.
// A segment that is damaged is trimmed or skipped with a log line; only an unusable directory is an
// error.
func Open(dir string, opts Options) (*Queue, error) {
	opts.setDefaults(dir)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("cannot create spool directory %q: %w", dir, err)
	}
	q := &Queue{
		dir:        dir,
		opts:       opts,
		log:        opts.Log.With("spool", opts.Name),
		dropLog:    logthrottle.New(10 * time.Second),
		corruptLog: logthrottle.New(10 * time.Second),
		diskErrLog: logthrottle.New(10 * time.Second),
		notify:     make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
	if err := q.load(); err != nil {
		return nil, err
	}
	q.m = newQueueMetrics(opts.Metrics, opts.Name, q)
	q.log.Info("opened spool", "dir", dir, "blocks", q.Len(), "bytes", q.Bytes(), "disk_bytes", q.DiskBytes(),
		"max_disk_bytes", opts.MaxDiskBytes)
	q.wg.Add(1)
	go q.flusher()
	return q, nil
}

// load scans the segment files left by a previous process.
func (q *Queue) load() error {
	pos, err := loadReaderPos(q.dir)
	if err != nil {
		q.log.Warn("replaying the whole spool", "err", err)
	}
	seqs, err := listSegments(q.dir)
	if err != nil {
		return err
	}
	for _, seq := range seqs {
		q.nextSq = seq + 1
		path := segmentPath(q.dir, seq)
		if seq < pos.Seq { // fully consumed before the last position was saved
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("cannot remove consumed spool segment %q: %w", path, err)
			}
			continue
		}
		start := fileHeaderLen
		if seq == pos.Seq && pos.Off > start {
			start = pos.Off
		}
		s, err := q.scanFile(path, seq, start)
		if err != nil {
			return err
		}
		if s == nil || s.blocks == 0 {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("cannot remove empty spool segment %q: %w", path, err)
			}
			continue
		}
		q.segs = append(q.segs, s)
		q.diskB += s.size
	}
	return nil
}

// scanFile walks one segment's frame headers. It returns nil for a file that is not a segment.
func (q *Queue) scanFile(path string, seq uint64, start int64) (*segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open spool segment %q: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot stat spool segment %q: %w", path, err)
	}
	if err := checkFileHeader(f, st.Size()); err != nil {
		q.log.Warn("skipping spool segment without a valid header", "file", path, "size", st.Size(), "err", err)
		return nil, nil
	}
	start = min(start, st.Size())
	res := scanSegment(f, start, st.Size(), q.opts.MaxBlockBytes)
	if res.err != nil {
		// The tail of an interrupted write, or damage: frames before it are kept.
		q.log.Warn("ignoring damaged tail of spool segment", "file", path, "offset", res.end,
			"ignored_bytes", st.Size()-res.end, "err", res.err)
	}
	return &segment{seq: seq, path: path, size: st.Size(), readOff: start, end: res.end,
		blocks: res.blocks, bytes: res.bytes}, nil
}

// Push appends block. It takes ownership of block: the caller must not modify it afterwards. It
// does not wait for the consumer; at worst it writes some blocks to a segment file.
func (q *Queue) Push(block []byte) error {
	if len(block) > q.opts.MaxBlockBytes {
		q.m.dropped(reasonTooLarge, 1, int64(len(block)))
		q.dropLog.Log(q.log, slog.LevelWarn, "dropped block larger than the spool accepts",
			"bytes", len(block), "max_block_bytes", q.opts.MaxBlockBytes)
		return fmt.Errorf("cannot spool %d bytes: %w", len(block), ErrTooLarge)
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.mem = append(q.mem, memBlock{data: block, at: time.Now()})
	q.memB += int64(len(block))
	if q.memB > q.opts.MaxMemBytes {
		// Spill down to half the bound so a stalled consumer costs one spill per half-bound of
		// pushes, not one per push.
		q.spillLocked(func(mb memBlock) bool { return q.memB > q.opts.MaxMemBytes/2 })
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// Next returns the oldest block, waiting for one until ctx ends or the queue is closed. The block
// stays queued until Ack; calling Next again before Ack returns it again.
func (q *Queue) Next(ctx context.Context) (Block, error) {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return Block{}, ErrClosed
		}
		b, ok := q.peekLocked()
		q.mu.Unlock()
		if ok {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return Block{}, ctx.Err()
		case <-q.stop:
		case <-q.notify:
		}
	}
}

// Ack removes b, which the consumer has delivered. Acknowledging a block that the cap has dropped in
// the meantime, or acknowledging twice, does nothing.
func (q *Queue) Ack(b Block) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	// The block may have moved from memory to disk since Next; peek locates it again.
	if _, ok := q.peekLocked(); !ok || b.pos != q.headPos {
		return
	}
	if q.head != nil {
		s := q.segs[0]
		s.readOff = q.headNext
		s.blocks--
		s.bytes -= int64(len(q.head.Data))
		q.head = nil
		q.posDirty = true
		if s.readOff >= s.end {
			q.removeHeadSegmentLocked()
		}
	} else {
		q.memB -= int64(len(q.mem[0].data))
		q.mem[0] = memBlock{}
		q.mem = q.mem[1:]
	}
	q.headPos++
}

// peekLocked returns the oldest block without removing it, reading it from disk if it lives there.
// Damaged frames met on the way are dropped, counted and logged.
func (q *Queue) peekLocked() (Block, bool) {
	for len(q.segs) > 0 {
		if q.head != nil {
			return *q.head, true
		}
		s := q.segs[0]
		if s.readOff >= s.end {
			if len(q.segs) == 1 && q.w != nil {
				break // the segment being appended to is drained: the rest is in memory
			}
			q.removeHeadSegmentLocked()
			continue
		}
		if s.f == nil {
			f, err := os.Open(s.path)
			if err != nil {
				q.skipHeadSegmentLocked(fmt.Errorf("cannot open spool segment: %w", err))
				continue
			}
			s.f = f
		}
		data, next, err := readFrame(s.f, s.readOff, s.end, q.opts.MaxBlockBytes)
		if err != nil {
			q.skipHeadSegmentLocked(err)
			continue
		}
		q.head = &Block{Data: data, pos: q.headPos}
		q.headNext = next
		return *q.head, true
	}
	if len(q.mem) > 0 {
		return Block{Data: q.mem[0].data, pos: q.headPos}, true
	}
	return Block{}, false
}

// skipHeadSegmentLocked drops the rest of a head segment that cannot be read.
func (q *Queue) skipHeadSegmentLocked(err error) {
	s := q.segs[0]
	blocks, bytes := s.blocks, s.bytes
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errTruncated) {
		err = fmt.Errorf("segment shorter than when scanned: %w", err)
	}
	q.m.dropped(reasonCorrupt, blocks, bytes)
	q.corruptLog.Log(q.log, slog.LevelError, "skipping the rest of a damaged spool segment", "file", s.path,
		"offset", s.readOff, "dropped_blocks", blocks, "dropped_bytes", bytes, "err", err)
	q.headPos += uint64(blocks)
	q.removeHeadSegmentLocked()
}

// dropOldestLocked makes room at the disk cap by dropping the oldest segment, counting exactly the
// blocks it still held.
func (q *Queue) dropOldestLocked() {
	s := q.segs[0]
	blocks, bytes := s.blocks, s.bytes
	q.m.dropped(reasonCap, blocks, bytes)
	q.dropLog.Log(q.log, slog.LevelWarn, "spool at its size cap: dropped the oldest blocks",
		"dropped_blocks", blocks, "dropped_bytes", bytes, "max_disk_bytes", q.opts.MaxDiskBytes)
	q.headPos += uint64(blocks)
	q.removeHeadSegmentLocked()
}

// removeHeadSegmentLocked deletes the first segment file.
func (q *Queue) removeHeadSegmentLocked() {
	s := q.segs[0]
	if s.f != nil {
		_ = s.f.Close() // read-only handle: nothing to lose
	}
	if len(q.segs) == 1 && q.w != nil {
		q.closeWriterLocked()
	}
	if err := os.Remove(s.path); err != nil {
		q.diskErrLog.Log(q.log, slog.LevelError, "cannot remove spool segment", "file", s.path, "err", err)
	}
	q.diskB -= s.size
	q.head = nil
	q.segs[0] = nil
	q.segs = q.segs[1:]
	q.posDirty = true
}

// closeWriterLocked hands the append handle to the flusher, which syncs and closes it outside the
// lock so Push never waits for a disk flush.
func (q *Queue) closeWriterLocked() {
	if q.dirty {
		q.toSync = append(q.toSync, q.w)
	} else {
		_ = q.w.Close() // nothing unsynced
	}
	q.w = nil
	q.dirty = false
}

// spillLocked moves in-memory blocks to disk, oldest first, while more(oldest) says so.
func (q *Queue) spillLocked(more func(memBlock) bool) {
	for len(q.mem) > 0 && more(q.mem[0]) {
		mb := q.mem[0]
		q.mem[0] = memBlock{}
		q.mem = q.mem[1:]
		q.memB -= int64(len(mb.data))
		if err := q.writeLocked(mb.data); err != nil {
			q.m.dropped(reasonDiskError, 1, int64(len(mb.data)))
			q.diskErrLog.Log(q.log, slog.LevelError, "dropped block: cannot write it to the spool", "err", err)
			if q.diskBlocksLocked() == 0 {
				// It was the oldest block of all: a consumer holding it must not ack its successor.
				q.headPos++
			}
		}
	}
}

// writeLocked appends one block as a frame to the last segment, starting a new segment when needed
// and dropping the oldest ones at the cap.
func (q *Queue) writeLocked(data []byte) error {
	fl := frameLen(len(data))
	for {
		need := fl
		if q.w == nil || (q.segs[len(q.segs)-1].size+fl > q.opts.SegmentBytes && q.segs[len(q.segs)-1].blocks > 0) {
			need += fileHeaderLen
		}
		if q.diskB+need <= q.opts.MaxDiskBytes || len(q.segs) == 0 {
			break
		}
		q.dropOldestLocked()
	}
	if q.w != nil && q.segs[len(q.segs)-1].size+fl > q.opts.SegmentBytes && q.segs[len(q.segs)-1].blocks > 0 {
		q.closeWriterLocked()
	}
	if q.w == nil {
		if err := q.startSegmentLocked(); err != nil {
			return err
		}
	}
	s := q.segs[len(q.segs)-1]
	var h [frameHeaderLen]byte
	hdr := appendFrameHeader(h[:0], data)
	if _, err := q.w.Write(hdr); err != nil {
		return q.abandonWriterLocked(s, err)
	}
	if _, err := q.w.Write(data); err != nil {
		return q.abandonWriterLocked(s, err)
	}
	s.size += fl
	s.end += fl
	s.blocks++
	s.bytes += int64(len(data))
	q.diskB += fl
	q.dirty = true
	q.m.spilledBlocks.Inc()
	q.m.spilledBytes.Add(len(data))
	return nil
}

// abandonWriterLocked stops appending to a segment whose last write failed part-way: its good frames
// stay readable up to end, and the next block starts a new segment.
func (q *Queue) abandonWriterLocked(s *segment, err error) error {
	if st, serr := q.w.Stat(); serr == nil {
		q.diskB += st.Size() - s.size
		s.size = st.Size()
	}
	q.closeWriterLocked()
	return fmt.Errorf("cannot append to spool segment %q: %w", s.path, err)
}

// startSegmentLocked creates the next segment file and writes its header.
func (q *Queue) startSegmentLocked() error {
	path := segmentPath(q.dir, q.nextSq)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("cannot create spool segment %q: %w", path, err)
	}
	if _, err := f.Write([]byte(fileMagic)); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("cannot write spool segment header %q: %w", path, err)
	}
	q.segs = append(q.segs, &segment{seq: q.nextSq, path: path, size: fileHeaderLen, readOff: fileHeaderLen,
		end: fileHeaderLen})
	q.diskB += fileHeaderLen
	q.nextSq++
	q.w = f
	q.dirty = true
	return nil
}

func (q *Queue) diskBlocksLocked() int {
	n := 0
	for _, s := range q.segs {
		n += s.blocks
	}
	return n
}

// Len is the number of queued blocks, in memory and on disk.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.mem) + q.diskBlocksLocked()
}

// Bytes is the payload bytes of the queued blocks.
func (q *Queue) Bytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.memB
	for _, s := range q.segs {
		n += s.bytes
	}
	return n
}

// DiskBytes is the size of the segment files, what MaxDiskBytes caps.
func (q *Queue) DiskBytes() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.diskB
}

// flusher spills blocks that waited longer than FlushInterval, fsyncs appended segments and saves the
// reader position, once per FlushInterval.
func (q *Queue) flusher() {
	defer q.wg.Done()
	t := time.NewTicker(q.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-q.stop:
			return
		case <-t.C:
			q.flush(false)
		}
	}
}

// flush writes what should be on disk and syncs it. With all, every in-memory block is spilled.
func (q *Queue) flush(all bool) {
	q.mu.Lock()
	cutoff := time.Now().Add(-q.opts.FlushInterval)
	q.spillLocked(func(mb memBlock) bool { return all || mb.at.Before(cutoff) })
	toSync := q.toSync
	q.toSync = nil
	var cur *os.File
	if q.dirty {
		cur = q.w
		q.dirty = false
	}
	var pos *readerPos
	if q.posDirty {
		p := readerPos{Seq: q.nextSq}
		if len(q.segs) > 0 {
			p = readerPos{Seq: q.segs[0].seq, Off: q.segs[0].readOff}
		}
		pos = &p
		q.posDirty = false
	}
	q.mu.Unlock()

	// Disk flushes happen outside the lock so Push and Ack do not wait for them.
	for _, f := range toSync {
		if err := f.Sync(); err != nil {
			q.diskErrLog.Log(q.log, slog.LevelError, "cannot sync spool segment", "file", f.Name(), "err", err)
		}
		_ = f.Close() // synced or reported above
	}
	if cur != nil {
		// cur may be closed concurrently by a rotation, which hands it to the next flush instead.
		if err := cur.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
			q.diskErrLog.Log(q.log, slog.LevelError, "cannot sync spool segment", "file", cur.Name(), "err", err)
		}
	}
	if pos != nil {
		if err := saveReaderPos(q.dir, *pos); err != nil {
			q.diskErrLog.Log(q.log, slog.LevelError, "cannot save spool reader position", "err", err)
		}
	}
}

// Close writes every in-memory block to disk, syncs, and releases files; a later Open replays them.
// Blocks that do not fit under the cap are dropped and counted like any other.
func (q *Queue) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	// From here Push and Next fail and Ack is ignored; what is held is written out below.
	q.closed = true
	q.mu.Unlock()
	close(q.stop)
	q.wg.Wait()
	q.flush(true)

	q.mu.Lock()
	var err error
	if q.w != nil {
		if serr := q.w.Sync(); serr != nil {
			err = fmt.Errorf("cannot sync spool %q: %w", q.dir, serr)
		}
		_ = q.w.Close() // synced above
		q.w = nil
	}
	for _, s := range q.segs {
		if s.f != nil {
			_ = s.f.Close() // read-only
		}
	}
	blocks, bytes := 0, int64(0)
	for _, s := range q.segs {
		blocks += s.blocks
		bytes += s.bytes
	}
	q.mu.Unlock()
	q.m.unregister()
	q.log.Info("closed spool", "blocks_on_disk", blocks, "bytes_on_disk", bytes)
	return err
}
