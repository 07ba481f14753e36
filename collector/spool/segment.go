package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const (
	segmentExt = ".seg"
	metaFile   = "reader.json"
)

// segment is one file of the on-disk part. Only the last segment is appended to; only the first is
// read from.
type segment struct {
	seq     uint64
	path    string
	f       *os.File // read handle, opened when the segment becomes the head
	size    int64    // file bytes, header included: what the disk cap counts
	readOff int64    // next unread frame
	end     int64    // end of the frames known good; bytes past it are a damaged tail
	blocks  int      // unread frames
	bytes   int64    // their payload bytes
}

func segmentPath(dir string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%016x%s", seq, segmentExt))
}

// listSegments returns the sequence numbers of the segment files in dir, oldest first. Other files
// are left alone.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list spool directory %q: %w", dir, err)
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, segmentExt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 16, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// readerPos is where the consumer stands, persisted so acknowledged blocks are not replayed after a
// restart. It is written at most once per flush interval, so a crash may replay up to one interval
// of acknowledged blocks: delivery is at-least-once.
type readerPos struct {
	Seq uint64 `json:"seq"`
	Off int64  `json:"off"`
}

// loadReaderPos returns the persisted position, or the zero position when there is none or it is
// unreadable (then everything on disk is replayed, which duplicates but never loses).
func loadReaderPos(dir string) (readerPos, error) {
	var p readerPos
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("cannot read spool reader position: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return readerPos{}, fmt.Errorf("cannot parse spool reader position %q: %w", filepath.Join(dir, metaFile), err)
	}
	return p, nil
}

// saveReaderPos replaces the persisted position atomically (write, sync, rename).
func saveReaderPos(dir string, p readerPos) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("cannot encode spool reader position: %w", err)
	}
	tmp := filepath.Join(dir, metaFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("cannot write spool reader position %q: %w", tmp, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cannot write spool reader position %q: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, metaFile)); err != nil {
		return fmt.Errorf("cannot replace spool reader position: %w", err)
	}
	return nil
}
