package query

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wardops/wardops/internal/testenv"
)

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"identity", false},
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, GZIP;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0", false},
		{"*", true},
		{"deflate, *;q=0", false},
		{"x-gzip", false},
	} {
		if got := acceptsGzip(tc.header); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %t, want %t", tc.header, got, tc.want)
		}
	}
}

// TestCachedBodies checks what the page cache and compression must not change: a gzip body is the
// identity body compressed, every body has its Content-Length, and a write still shows at once.
func TestCachedBodies(t *testing.T) {
	// One snapshot for the whole test unless a write invalidates it.
	e := newEnv(t, func(o *Options) { o.CacheTTL = time.Hour })
	e.seedInventory(12, 25, nil)
	fetch := func(path, enc string) (*http.Response, []byte) {
		t.Helper()
		resp, b := testenv.GetEncoded(t, e.ts.URL+path, enc)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(b)) {
			t.Errorf("%s (%s): Content-Length %q for %d bytes", path, enc, cl, len(b))
		}
		if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
			t.Errorf("%s: Vary %q", path, v)
		}
		return resp, b
	}
	for _, path := range []string{"/api/v1/dashboard", "/api/v1/devices?limit=50", "/api/v1/devices?limit=50&sort=-name"} {
		_, plain := fetch(path, "identity")
		for _, enc := range []string{"gzip", "gzip, br", "gzip;q=0", ""} {
			resp, b := fetch(path, enc)
			gz := resp.Header.Get("Content-Encoding") == "gzip"
			if want := acceptsGzip(enc); gz != want {
				t.Fatalf("%s with Accept-Encoding %q: gzip %t, want %t", path, enc, gz, want)
			}
			if gz {
				zr, err := gzip.NewReader(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if b, err = io.ReadAll(zr); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
			}
			if !bytes.Equal(b, plain) {
				t.Errorf("%s with Accept-Encoding %q differs from the identity body", path, enc)
			}
		}
	}

	// The first page is cached now; a new device must still be in the next answer.
	var before, after listResp
	e.get("/api/v1/devices?limit=50", &before)
	w := e.token("writer", "write")
	var br branchView
	if code := e.do("POST", "/api/v1/branches", w, map[string]any{"name": "late-branch", "region": "east"}, &br); code != 201 {
		t.Fatalf("create branch: %d", code)
	}
	if code := e.do("POST", "/api/v1/devices", w, map[string]any{"name": "late-dev", "ip": "127.20.99.1", "branch_id": br.ID}, nil); code != 201 {
		t.Fatalf("create device: %d", code)
	}
	e.get("/api/v1/devices?limit=50", &after)
	if after.Total != before.Total+1 {
		t.Errorf("total %d after a create, was %d: a cached page outlived the write", after.Total, before.Total)
	}
}
