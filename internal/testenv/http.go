package testenv

import (
	"io"
	"net/http"
	"testing"
)

// GetEncoded fetches url with Accept-Encoding enc and returns the response with its body as sent
// on the wire: setting the header by hand keeps Go's transport from decompressing it.
func GetEncoded(t testing.TB, url, enc string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", enc)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, b
}
