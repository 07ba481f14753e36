package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	f := func(want int, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"healthcheck"}, args...), &out, &errb); code != want {
			t.Errorf("healthcheck %v: exit %d, want %d (%s)", args, code, want, errb.String())
		}
	}
	f(0, srv.URL+"/ok")
	f(1, srv.URL+"/down")
	f(1, "http://127.0.0.1:1/unreachable")
	f(2)
	f(2, "not a url")
}
