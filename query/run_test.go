package query

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestServeShutdown serves on a real listener and stops within the bound when ctx ends.
func TestServeShutdown(t *testing.T) {
	e := newEnv(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, l) }()
	resp, err := http.Get("http://" + l.Addr().String() + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("health: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1700000000", "1700000000.5", "2026-01-02T03:04:05Z", "", "-1", "1e300", "NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseTime(s)
		if err == nil && (tm.Year() < 1970 || tm.Year() > 3000) {
			t.Fatalf("parseTime(%q) = %v accepted", s, tm)
		}
	})
}
