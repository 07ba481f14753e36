// Package httpsec is what both wardops HTTP listeners (the query service and the collector's
// /metrics) put in front of their handlers: security headers on every response, a Host header
// check against DNS rebinding, and TLS with a certificate re-read on SIGHUP.
package httpsec

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
)

// ContentSecurityPolicy is what a response that is not an HTML document gets (JSON, /metrics,
// static files): it loads nothing and may not be framed, should a browser ever render it.
const ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

// DocumentSecurityPolicy allows an HTML document only the service's own scripts, styles and API:
// the NOC pages need nothing else, and frame-ancestors 'none' stops them being framed
// (clickjacking).
const DocumentSecurityPolicy = "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// SetHeaders sets the headers every response carries, errors and JSON included: a browser must
// never sniff a JSON body into HTML, nor render any of it in a frame.
func SetHeaders(h http.Header) {
	h["Content-Security-Policy"] = csp
	h["X-Content-Type-Options"] = nosniff
}

// SetDocumentHeaders replaces the policy with the one an HTML document needs and adds what only
// a document needs: X-Frame-Options for browsers that predate CSP frame-ancestors, and
// Referrer-Policy, since a document's links and fetches would send its URL. A JSON body or
// /metrics has neither frames nor links. Leaving the two off them also keeps a snapshot answer's
// headers within the eight entries a map holds before it grows: net/http copies the header map
// at WriteHeader and sorts it on write, and at a wall of screens' request rates a grown map is a
// measurable share of an answer that is otherwise a copy of bytes.
func SetDocumentHeaders(h http.Header) {
	h["Content-Security-Policy"] = documentCSP
	h["X-Frame-Options"] = deny
	h["Referrer-Policy"] = noReferrer
}

// Shared value slices, so that setting them allocates nothing on every response. Each has
// len == cap: a handler that Adds to one of these headers gets a new array, never writes into
// the shared one.
var (
	csp         = []string{ContentSecurityPolicy}
	documentCSP = []string{DocumentSecurityPolicy}
	nosniff     = []string{"nosniff"}
	deny        = []string{"DENY"}
	noReferrer  = []string{"no-referrer"}
)

// Hosts is the set of Host header values a listener answers. A DNS-rebinding page reaches a
// loopback service under the attacker's own host name, so names are refused unless listed; IP
// literals and localhost cannot be rebound and are always accepted.
type Hosts struct {
	any   bool
	names map[string]bool
}

// NewHosts builds the set from lower-case names; "*" accepts any Host.
func NewHosts(names []string) *Hosts {
	h := &Hosts{names: map[string]bool{"localhost": true}}
	for _, n := range names {
		if n == "*" {
			h.any = true
		}
		h.names[strings.TrimSuffix(strings.ToLower(n), ".")] = true
	}
	return h
}

// Allowed says whether a request's Host header (with or without a port) is accepted.
func (h *Hosts) Allowed(host string) bool {
	if h.any {
		return true
	}
	if name, _, err := net.SplitHostPort(host); err == nil {
		host = name
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return false
	}
	// netip rather than net.ParseIP, which allocates; a zone is refused as net.ParseIP refuses it.
	if a, err := netip.ParseAddr(host); err == nil && a.Zone() == "" {
		return true
	}
	return h.names[strings.ToLower(host)]
}

// Wrap puts the headers and the Host check in front of next. A refused Host gets 421, the
// status for a request that reached a server not configured to answer for that name.
func Wrap(next http.Handler, hosts *Hosts) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetHeaders(w.Header())
		if !hosts.Allowed(r.Host) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = w.Write([]byte(`{"error":"host not allowed (WARDOPS_ALLOWED_HOSTS)"}` + "\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Certificate holds a certificate and key read from files; Reload re-reads them, so a renewed
// certificate is served without a restart.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertificate reads certFile and keyFile (PEM).
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload re-reads the files; on an error the certificate served so far stays.
func (c *Certificate) Reload() error {
	kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("cannot load TLS certificate %s and key %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur.Store(&kp)
	return nil
}

// Config is a server TLS configuration serving the current certificate.
func (c *Certificate) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
}

// ReloadOn re-reads the certificate each time sig delivers, until ctx ends; a failed reload is
// logged and the old certificate kept.
func (c *Certificate) ReloadOn(ctx context.Context, sig <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			if err := c.Reload(); err != nil {
				log.Error("TLS certificate not reloaded; serving the previous one", "err", err)
				continue
			}
			log.Info("TLS certificate reloaded", "cert", c.certFile)
		}
	}
}
