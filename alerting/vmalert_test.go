package alerting_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wardops/wardops/alerting"
	"github.com/wardops/wardops/internal/testenv"
)

const rulesFile = "vmalert/rules.yml"

type vmalertFile struct {
	Groups []struct {
		Rules []struct {
			Alert  string            `yaml:"alert"`
			Expr   string            `yaml:"expr"`
			For    string            `yaml:"for"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestVMAlertRules checks the vmalert file three ways: Debian's vmalert loads it (-dryRun), it
// says what the default rules in the database say (expression, threshold, for, severity), and
// each expression evaluates against a real VictoriaMetrics holding matching series.
func TestVMAlertRules(t *testing.T) {
	t.Parallel()
	bin := testenv.LookBinary(t, "vmalert", "victoria-metrics")
	if out, err := exec.Command(bin, "-dryRun", "-rule="+rulesFile).CombinedOutput(); err != nil {
		t.Fatalf("vmalert -dryRun: %v\n%s", err, out)
	}
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f vmalertFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, r := range f.Groups[0].Rules {
		byName[r.Alert] = i
	}
	st, _ := testenv.Store(t)
	rules, err := st.AlertRules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vm := testenv.VictoriaMetrics(t)
	now := time.Now()
	var lines []string
	for _, m := range []string{"wardops_ping_up", "wardops_ping_rtt_seconds", "wardops_ping_loss_ratio", "wardops_snmp_up", "wardops_snmp_reboot_detected"} {
		lines = append(lines, fmt.Sprintf(`{"metric":{"__name__":%q,"device_id":"1"},"values":[0,0],"timestamps":[%d,%d]}`, m, now.Add(-time.Minute).UnixMilli(), now.UnixMilli()))
	}
	for _, m := range []string{"wardops_snmp_ifOperStatus", "wardops_snmp_ifAdminStatus", "wardops_snmp_ifInErrors", "wardops_snmp_ifOutErrors"} {
		lines = append(lines, fmt.Sprintf(`{"metric":{"__name__":%q,"device_id":"1","index":"1"},"values":[1,2],"timestamps":[%d,%d]}`, m, now.Add(-time.Minute).UnixMilli(), now.UnixMilli()))
	}
	resp, err := http.Post(vm.URL+"/api/v1/import", "application/json", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_, _ = http.Get(vm.URL + "/internal/force_flush")
	seen := 0
	for _, r := range rules {
		if r.Kind == "device_down" {
			if _, ok := byName[r.Name]; !ok {
				t.Errorf("rules file lacks %s", r.Name)
			}
			continue
		}
		expr, err := alerting.RuleExpr(r)
		if err != nil {
			continue // not a VictoriaMetrics rule
		}
		seen++
		i, ok := byName[r.Name]
		if !ok {
			t.Errorf("rules file lacks %s", r.Name)
			continue
		}
		fr := f.Groups[0].Rules[i]
		want := fmt.Sprintf("(%s) %s %s", expr, r.Comparison, strconv.FormatFloat(*r.Threshold, 'g', -1, 64))
		if fr.Expr != want {
			t.Errorf("%s: file has %q, the default rule is %q", r.Name, fr.Expr, want)
		}
		if fr.Labels["severity"] != r.Severity {
			t.Errorf("%s: severity %q, want %q", r.Name, fr.Labels["severity"], r.Severity)
		}
		if d, _ := time.ParseDuration(orZero(fr.For)); d != r.For {
			t.Errorf("%s: for %s, want %s", r.Name, fr.For, r.For)
		}
		if _, err := vm.Query(fr.Expr); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
		// The comparison's left side has a series for the device: the expression reads the
		// metrics the collector writes, under their real names.
		var got []testenv.Sample
		waitFor(t, 10*time.Second, r.Name+" returns the device's series", func() (bool, string) {
			got, err = vm.Query(expr)
			return err == nil && len(got) > 0, fmt.Sprint(err)
		})
	}
	if seen < 6 {
		t.Errorf("only %d VictoriaMetrics rules among the defaults", seen)
	}
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}
