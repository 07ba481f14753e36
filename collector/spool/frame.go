package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// A segment file is a fixed file header followed by frames, each
//
//	length  uint32 little-endian: payload bytes
//	crc     uint32 little-endian: CRC-32C over the length field and the payload
//	payload length bytes
//
// The CRC covers the length too, so a flipped length bit is caught instead of sending the reader
// into the middle of a payload. Frames are only ever appended; a torn last frame after a crash is
// detected as truncated and ignored.
const (
	fileMagic      = "WARDSPL1"
	fileHeaderLen  = int64(len(fileMagic))
	frameHeaderLen = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTruncated means the segment ends inside a frame: the tail of an interrupted write.
var errTruncated = errors.New("truncated frame")

// corruptError means a frame's bytes are not what was written.
type corruptError struct {
	off    int64
	reason string
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("corrupt frame at offset %d: %s", e.off, e.reason)
}

// frameLen is the number of segment bytes a payload of n bytes takes.
func frameLen(n int) int64 { return frameHeaderLen + int64(n) }

// appendFrameHeader appends the header of payload's frame to dst.
func appendFrameHeader(dst, payload []byte) []byte {
	var h [frameHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], c)
	return append(dst, h[:]...)
}

// appendFrame appends the framed payload to dst.
func appendFrame(dst, payload []byte) []byte {
	return append(appendFrameHeader(dst, payload), payload...)
}

// checkFileHeader reports whether r starts with the segment magic.
func checkFileHeader(r io.ReaderAt, size int64) error {
	if size < fileHeaderLen {
		return errTruncated
	}
	var m [fileHeaderLen]byte
	if _, err := r.ReadAt(m[:], 0); err != nil {
		return fmt.Errorf("cannot read segment header: %w", err)
	}
	if string(m[:]) != fileMagic {
		return &corruptError{off: 0, reason: "bad file magic"}
	}
	return nil
}

// readFrameHeader reads the frame header at off and returns the payload length and stored CRC. It
// rejects lengths that run past size or exceed maxPayload.
func readFrameHeader(r io.ReaderAt, off, size int64, maxPayload int) (n int, sum uint32, err error) {
	if size-off < frameHeaderLen {
		return 0, 0, errTruncated
	}
	var h [frameHeaderLen]byte
	if _, err := r.ReadAt(h[:], off); err != nil {
		return 0, 0, fmt.Errorf("cannot read frame header at offset %d: %w", off, err)
	}
	l := binary.LittleEndian.Uint32(h[0:4])
	if int64(l) > int64(maxPayload) {
		return 0, 0, &corruptError{off: off, reason: fmt.Sprintf("length %d exceeds limit %d", l, maxPayload)}
	}
	if size-off-frameHeaderLen < int64(l) {
		return 0, 0, errTruncated
	}
	return int(l), binary.LittleEndian.Uint32(h[4:8]), nil
}

// readFrame reads and verifies the frame at off and returns its payload and the next frame's offset.
func readFrame(r io.ReaderAt, off, size int64, maxPayload int) (payload []byte, next int64, err error) {
	n, sum, err := readFrameHeader(r, off, size, maxPayload)
	if err != nil {
		return nil, off, err
	}
	payload = make([]byte, n)
	// An empty payload is not read at all: some readers report io.EOF for a zero-length read at
	// the end (found by FuzzReadSegment).
	if _, err := r.ReadAt(payload, off+frameHeaderLen); n > 0 && err != nil {
		return nil, off, fmt.Errorf("cannot read frame payload at offset %d: %w", off, err)
	}
	var lb [4]byte
	binary.LittleEndian.PutUint32(lb[:], uint32(n))
	c := crc32.Update(0, castagnoli, lb[:])
	if crc32.Update(c, castagnoli, payload) != sum {
		return nil, off, &corruptError{off: off, reason: "checksum mismatch"}
	}
	return payload, off + frameLen(n), nil
}

// scanResult is what a header-only walk over a segment found.
type scanResult struct {
	blocks int   // frames whose headers are plausible
	bytes  int64 // their payload bytes
	end    int64 // offset just past the last plausible frame
	err    error // why the walk stopped before size, nil when it reached size exactly
}

// scanSegment walks frame headers from off without reading payloads, so opening a large spool reads
// a few bytes per block instead of the whole spool. Payload checksums are verified when a block is
// read; a frame whose payload is bad is found then.
func scanSegment(r io.ReaderAt, off, size int64, maxPayload int) scanResult {
	res := scanResult{end: off}
	for res.end < size {
		n, _, err := readFrameHeader(r, res.end, size, maxPayload)
		if err != nil {
			res.err = err
			return res
		}
		res.blocks++
		res.bytes += int64(n)
		res.end += frameLen(n)
	}
	return res
}
