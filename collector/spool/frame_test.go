package spool

import (
	"bytes"
	"errors"
	"testing"
)

func segmentBytes(payloads ...[]byte) []byte {
	b := []byte(fileMagic)
	for _, p := range payloads {
		b = appendFrame(b, p)
	}
	return b
}

// FuzzReadSegment feeds arbitrary bytes to the segment reader: it must never panic, never return a
// payload whose checksum does not match, and agree with the header-only scan about where frames are.
func FuzzReadSegment(f *testing.F) {
	f.Add(segmentBytes())
	f.Add(segmentBytes([]byte("one")))
	f.Add(segmentBytes([]byte("one"), []byte{}, bytes.Repeat([]byte{7}, 300)))
	f.Add(segmentBytes([]byte("one"), []byte("two"))[:20])
	f.Add([]byte("WARDSPL1\xff\xff\xff\xff\x00\x00\x00\x00"))
	f.Add([]byte("garbage"))
	const maxPayload = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		size := int64(len(data))
		if err := checkFileHeader(r, size); err != nil {
			return
		}
		scan := scanSegment(r, fileHeaderLen, size, maxPayload)
		if scan.end > size || (scan.err == nil && scan.end != size) {
			t.Fatalf("scan end %d, size %d, err %v", scan.end, size, scan.err)
		}
		off := fileHeaderLen
		frames := 0
		for off < scan.end {
			p, next, err := readFrame(r, off, scan.end, maxPayload)
			if err != nil {
				var ce *corruptError
				if !errors.As(err, &ce) {
					t.Fatalf("frame at %d within the scanned range: unexpected error %v", off, err)
				}
				return // a checksum failure: the queue skips the rest of the segment
			}
			if next != off+frameLen(len(p)) || next > scan.end {
				t.Fatalf("frame at %d: next %d for %d payload bytes", off, next, len(p))
			}
			// Re-encoding a frame that passed must reproduce its bytes exactly.
			if !bytes.Equal(appendFrame(nil, p), data[off:next]) {
				t.Fatalf("frame at %d does not round-trip", off)
			}
			off = next
			frames++
		}
		if frames != scan.blocks {
			t.Fatalf("read %d frames, scan counted %d", frames, scan.blocks)
		}
	})
}
