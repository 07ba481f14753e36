package query

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/wardops/wardops/model"
)

// TestClassify maps store errors, wrapped as the store wraps them, onto statuses by their type.
func TestClassify(t *testing.T) {
	r := responder{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	wrap := func(err error) error { return fmt.Errorf("cannot create device %q: %w", "x", err) }
	for _, tc := range []struct {
		name    string
		err     error
		code    int
		param   string
		message string
	}{
		{"conflict keeps the database's detail", wrap(&model.ConflictError{Constraint: "devices_name_key", Detail: "Key (name)=(x) already exists."}),
			http.StatusConflict, "", "conflict: Key (name)=(x) already exists."},
		{"conflict without detail", wrap(&model.ConflictError{Constraint: "devices_ip_key"}),
			http.StatusConflict, "", "conflict: a unique or foreign-key constraint refused the change"},
		{"unknown reference names its field", wrap(&model.RefError{Field: "branch_id", Value: "999"}),
			http.StatusBadRequest, "branch_id", "unknown branch_id 999"},
		{"not found", wrap(model.ErrNotFound), http.StatusNotFound, "", "not found"},
		{"api error as is", badParam("limit", "must be an integer"), http.StatusBadRequest, "limit", "limit: must be an integer"},
		{"anything else is a backend failure", wrap(errors.New("connection refused")),
			http.StatusServiceUnavailable, "", "backend unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, ae := r.classify(c, tc.err)
			if code != tc.code || ae.Param != tc.param || ae.Message != tc.message {
				t.Fatalf("classify = %d %+v, want %d param %q message %q", code, ae, tc.code, tc.param, tc.message)
			}
		})
	}
}

// TestValidQueryAgreesWithParseQuery: the allocation-free check refuses exactly what
// url.ParseQuery refuses.
func TestValidQueryAgreesWithParseQuery(t *testing.T) {
	for _, q := range []string{"", "a=1", "a=1&b=2", "a=%41", "a=%4", "a=%", "%zz=1", "a=1;b=2", "a=%e2%82%ac", "a=+b", "&&", "=", "a=%4G", "a=%%41", "q=%20x%2"} {
		_, err := url.ParseQuery(q)
		if got, want := validQuery(q), err == nil; got != want {
			t.Errorf("validQuery(%q) = %v, url.ParseQuery says %v (%v)", q, got, want, err)
		}
	}
}
