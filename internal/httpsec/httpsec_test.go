package httpsec

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeCert(t *testing.T, dir, cn string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cf, kf
}

// TestCertificateReloadOnSignal serves TLS on loopback, replaces the files, signals, and sees the
// new certificate served without a restart; a broken file keeps the old one.
func TestCertificateReloadOnSignal(t *testing.T) {
	dir := t.TempDir()
	cf, kf := writeCert(t, dir, "first")
	c, err := LoadCertificate(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", c.Config())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Wrap(http.NotFoundHandler(), NewHosts(nil)), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	served := func() string {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true}) // the name is the point, not the chain
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "first" {
		t.Fatalf("served %q", cn)
	}
	sig := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.ReloadOn(ctx, sig, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	writeCert(t, dir, "second")
	sig <- os.Interrupt
	deadline := time.Now().Add(5 * time.Second)
	for served() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was never served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = os.WriteFile(cf, []byte("garbage"), 0o600)
	if err := c.Reload(); err == nil {
		t.Fatal("a broken certificate file was accepted")
	}
	if cn := served(); cn != "second" {
		t.Fatalf("after a failed reload: %q", cn)
	}
}

func TestHosts(t *testing.T) {
	h := NewHosts([]string{"noc.example"})
	for host, want := range map[string]bool{"noc.example": true, "noc.example.:443": true, "127.0.0.1": true, "[::1]:80": true,
		"localhost:5001": true, "evil.example": false, "": false, "noc.example.evil.example": false} {
		if got := h.Allowed(host); got != want {
			t.Errorf("Allowed(%q) = %t, want %t", host, got, want)
		}
	}
	if !NewHosts([]string{"*"}).Allowed("anything.example") {
		t.Error("* must accept any host")
	}
}
