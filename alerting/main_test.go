package alerting_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs the end-to-end scenarios side by side even on two cores: they spend their
// minutes waiting for ping cycles, not computing, and one after another they would take over
// fifteen. An explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}
