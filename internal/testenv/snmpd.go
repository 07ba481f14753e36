package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

// SnmpdOptions are the credentials a test snmpd accepts: a read-only v2c community (and v1) and
// one v3 authPriv user with SHA authentication and AES privacy.
type SnmpdOptions struct {
	Community string
	User      string
	AuthKey   string // at least 8 characters (RFC 3414 11.2)
	PrivKey   string // at least 8 characters
	// Config is more snmpd.conf lines, such as "override OID TYPE VALUE" to serve exact values.
	Config string
}

// Snmpd runs net-snmp's agent in the foreground on 127.0.0.1 and a free UDP port, waits until it
// answers, stops it at cleanup and returns the port. No MIB files are installed here, so the agent
// is told not to look for any: every OID is numeric.
func Snmpd(t testing.TB, o SnmpdOptions) int {
	t.Helper()
	bin := LookBinary(t, "snmpd", "snmpd")
	l, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := l.LocalAddr().(*net.UDPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "snmpd.conf")
	body := fmt.Sprintf(`agentAddress udp:127.0.0.1:%d
rocommunity %s 127.0.0.1
createUser %s SHA "%s" AES "%s"
rouser %s priv
%s
`, port, o.Community, o.User, o.AuthKey, o.PrivKey, o.User, o.Config)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	// -C: only this config; SNMP_PERSISTENT_DIR keeps the engine id and users out of /var/lib.
	cmd := exec.Command(bin, "-f", "-Lo", "-C", "-c", conf, "-M", "/dev/null", "-m", "")
	cmd.Env = append(os.Environ(), "SNMP_PERSISTENT_DIR="+dir, "MIBDIRS=/dev/null", "MIBS=")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start snmpd: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	g := &gosnmp.GoSNMP{Target: "127.0.0.1", Port: uint16(port), Version: gosnmp.Version2c, Community: o.Community,
		Timeout: 200 * time.Millisecond, MaxOids: gosnmp.MaxOids}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	defer g.Conn.Close()
	const sysUpTime = ".1.3.6.1.2.1.1.3.0"
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-done:
			t.Fatalf("snmpd exited: %s", out.String())
		default:
		}
		if _, err := g.Get([]string{sysUpTime}); err == nil {
			return port
		}
	}
	t.Fatalf("snmpd did not answer on 127.0.0.1:%d: %s", port, out.String())
	return 0
}
