package deploy

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/dashboards"
	"github.com/wardops/wardops/internal/testenv"
)

type service struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Healthcheck map[string]any `yaml:"healthcheck"`
	Restart     string         `yaml:"restart"`
	Environment map[string]any `yaml:"environment"`
	Volumes     []string       `yaml:"volumes"`
	Command     any            `yaml:"command"`
	Secrets     []string       `yaml:"secrets"`
	Ports       []string       `yaml:"ports"`
	Profiles    []string       `yaml:"profiles"`
}

func loadCompose(t *testing.T) (map[string]service, string) {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]service `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f.Services, string(raw)
}

// TestComposeValidates runs Debian's docker-compose on the file, as an operator would first.
func TestComposeValidates(t *testing.T) {
	bin := testenv.LookBinary(t, "docker-compose", "docker-compose")
	cmd := exec.Command(bin, "-f", "../docker-compose.yml", "config", "-q")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	// The cluster profile with its URLs, as README "VictoriaMetrics cluster" starts it.
	cmd = exec.Command(bin, "-f", "../docker-compose.yml", "--env-file", "cluster.env", "--profile", "cluster", "config")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose --profile cluster config: %v\n%s", err, out)
	}
	for _, want := range []string{"image: victoriametrics/vminsert:", "image: victoriametrics/vmselect:", "image: victoriametrics/vmstorage:",
		"WARDOPS_VM_URL: http://vminsert:8480/insert/0/prometheus", "WARDOPS_VM_QUERY_URL: http://vmselect:8481/select/0/prometheus",
		"WARDOPS_VM_URL: http://127.0.0.1:8480/insert/0/prometheus", "-datasource.url=http://vmselect:8481/select/0/prometheus",
		"VM_READ_URL: http://vmselect:8481/select/0/prometheus"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("docker-compose --profile cluster config lacks %q", want)
		}
	}
}

// TestComposeCluster: profile cluster holds vmstorage, vminsert and vmselect, deduplicating on
// vmstorage and vmselect as the cluster requires, and the URLs of deploy/cluster.env are ones
// wardops accepts for every component that runs in compose.
func TestComposeCluster(t *testing.T) {
	svcs, _ := loadCompose(t)
	for _, name := range []string{"vmstorage", "vminsert", "vmselect"} {
		s, ok := svcs[name]
		if !ok || !slices.Equal(s.Profiles, []string{"cluster"}) {
			t.Errorf("%s: want a service in profile cluster, got %+v", name, s.Profiles)
			continue
		}
		cmd := fmt.Sprint(s.Command)
		if (name != "vminsert") != strings.Contains(cmd, "-dedup.minScrapeInterval=") {
			t.Errorf("%s: -dedup.minScrapeInterval belongs on vmstorage and vmselect only: %s", name, cmd)
		}
	}
	for name, s := range svcs {
		if len(s.Profiles) > 0 && !slices.Contains([]string{"vmstorage", "vminsert", "vmselect"}, name) {
			t.Errorf("%s is in profile %v: the default layout must run without profiles", name, s.Profiles)
		}
	}
	raw, err := os.ReadFile("cluster.env")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	get := func(over map[string]string) func(string) string {
		return func(k string) string {
			if v, ok := over[k]; ok {
				return v
			}
			return env[k]
		}
	}
	for _, cmd := range []string{"query", "alerter"} {
		c, _, err := config.Parse(cmd, nil, get(nil), io.Discard)
		if err != nil {
			t.Errorf("%s with cluster.env: %v", cmd, err)
		} else if c.VMTenant != "0" {
			t.Errorf("%s with cluster.env: tenant %q, want 0", cmd, c.VMTenant)
		}
	}
	if _, _, err := config.Parse("collector", nil, get(map[string]string{"WARDOPS_VM_URL": env["WARDOPS_COLLECTOR_VM_URL"]}), io.Discard); err != nil {
		t.Errorf("collector with cluster.env: %v", err)
	}
}

var pinned = regexp.MustCompile(`^[a-z0-9./_-]+:v?[0-9]+(\.[0-9]+)+(-[a-z0-9]+)?$`)

// TestComposePromises: every image is pinned to a version (the Dockerfile's bases too), every
// long-running service has a healthcheck, no password sits in the file or in a URL, wardops reads
// its database password from a secret file, and the mounted configs exist.
func TestComposePromises(t *testing.T) {
	svcs, raw := loadCompose(t)
	for _, want := range []string{"postgres", "victoriametrics", "vmagent", "vmalert", "alertmanager", "grafana", "migrate", "collector", "query", "alerter"} {
		if _, ok := svcs[want]; !ok {
			t.Errorf("no %s service", want)
		}
	}
	for name, s := range svcs {
		if s.Image != "" && s.Build == nil && !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		oneShot := s.Restart == "no"
		if !oneShot && len(s.Healthcheck) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
		if hc, ok := s.Healthcheck["test"].([]any); ok && len(hc) > 1 && hc[1] == "curl" {
			t.Errorf("%s: healthcheck uses curl, which the images lack", name)
		}
		for k, v := range s.Environment {
			if strings.Contains(k, "PASSWORD") && !strings.HasSuffix(k, "_FILE") {
				t.Errorf("%s: %s=%v: a password in the file; use a *_FILE secret", name, k, v)
			}
		}
		for _, v := range s.Volumes {
			src := strings.SplitN(v, ":", 2)[0]
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("%s mounts %s, which does not exist", name, src)
				}
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %s on every interface; bind to 127.0.0.1 and put a proxy in front", name, p)
			}
		}
	}
	if m := regexp.MustCompile(`[a-z]+://[^/\s:@]+:[^@\s/]+@`).FindString(raw); m != "" {
		t.Errorf("a URL with credentials: %s", m)
	}
	for _, name := range []string{"migrate", "collector", "query", "alerter"} {
		s := svcs[name]
		if s.Environment["WARDOPS_DATABASE_PASSWORD_FILE"] == nil && !strings.Contains(raw, "WARDOPS_DATABASE_PASSWORD_FILE: /run/secrets/db_password") {
			t.Errorf("%s does not read the password from the secret", name)
		}
	}
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(df), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "FROM" {
			if img := f[1]; !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
				t.Errorf("Dockerfile: base %s is not pinned", img)
			}
		}
	}
	for _, want := range []string{"setcap cap_net_raw+ep", "USER 65532", "distroless/static"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	di, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "var", "deploy/secrets"} {
		if !slices.Contains(strings.Fields(string(di)), want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}

// TestScrapeJobsMatchDashboards: vmagent scrapes each wardops /metrics under the job name the
// health dashboards filter on.
func TestScrapeJobsMatchDashboards(t *testing.T) {
	raw, err := os.ReadFile("vmagent/scrape.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, c := range cfg.ScrapeConfigs {
		jobs = append(jobs, c.JobName)
	}
	for _, want := range []string{dashboards.JobCollector, dashboards.JobQuery, dashboards.JobAlerter} {
		if !slices.Contains(jobs, want) {
			t.Errorf("vmagent does not scrape job %s (has %v)", want, jobs)
		}
	}
}
