// Package config holds every wardops setting: its flag, its WARDOPS_* environment variable, its
// default and its validation. Nothing else in the tree reads flags or the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Secret is a string that never prints its value, so a config dump or a log line cannot leak it.
type Secret string

func (Secret) String() string { return "<secret>" }

// Config is the parsed and validated configuration shared by every subcommand.
type Config struct {
	DatabaseURL Secret
	// DatabasePasswordFile names a file (a compose or Kubernetes secret) whose content is the
	// PostgreSQL password, so the password never appears in a URL, an environment dump or ps.
	DatabasePasswordFile string
	VMURL                string // where samples are pushed: single node or vminsert .../insert/<tenant>/prometheus
	VMQueryURL           string // where the query service reads: single node or vmselect .../select/<tenant>/prometheus
	VMTenant             string // the cluster tenant both URLs name (accountID or accountID:projectID); "" for a single node

	Listen          string
	CollectorListen string
	PprofListen     string // "": profiling off
	TLSCertFile     string // both HTTP listeners serve TLS when set (with TLSKeyFile)
	TLSKeyFile      string
	AllowedHosts    []string // Host header names accepted besides IP literals and localhost; "*" accepts any
	TrustedProxies  []string // CIDRs whose X-Forwarded-For is believed for the client address
	DataDir         string
	ProfilesDir     string

	PingInterval time.Duration
	PingCount    int
	PingTimeout  time.Duration
	PingEcho     time.Duration // pacing between one probe's echoes
	ICMPEngine   string
	ICMPMode     string

	SNMPInterval    time.Duration
	SNMPTimeout     time.Duration
	SNMPRetries     int
	ProbeWorkers    int
	SNMPWorkers     int
	InventoryReload time.Duration

	CollectorID    string
	CollectorZone  string
	CollectorLease time.Duration

	PushBatch    int
	PushInterval time.Duration
	VMReplaySpan time.Duration // 0: off
	SpoolMaxSize int64

	DBMaxConns          int
	DBConnectTimeout    time.Duration
	DBMaxConnLifetime   time.Duration
	DBHealthCheckPeriod time.Duration
	DBStatementTimeout  time.Duration
	DBIdleInTxTimeout   time.Duration
	RetentionDays       int
	AlertRetentionDays  int            // resolved alert_history rows kept
	RetentionSchedule   string         // "HH:MM" daily, or "off" for cron-driven `wardops maintenance` only
	RetentionAt         TimeOfDay      // RetentionSchedule parsed; zero when off
	RetentionOff        bool           // RetentionSchedule is "off"
	RetentionZone       *time.Location // the zone RetentionAt is read in

	RequireReadToken bool
	// AlertmanagerURLs are the Alertmanagers (each one directly, never a load balancer) that
	// acknowledgements are mirrored to as silences.
	AlertmanagerURLs []string
	RateLimit        float64 // requests per second per client; 0 disables
	RateLimitLocal   bool    // apply the limit to loopback clients too
	CacheTTL         time.Duration
	CacheBuildShare  float64 // the most of the wall time the query service spends building snapshots

	// Alerting.
	AlerterListen         string
	AlertDownInterval     time.Duration
	AlertEvalInterval     time.Duration
	AlertResendInterval   time.Duration
	AlertResolvedResend   time.Duration
	AlertmanagerTimeout   time.Duration
	AlertmanagerGroupWait time.Duration
	ExternalURL           string
	// Secrets at rest: the AES-256 keys sealing SNMP communities and v3 keys in PostgreSQL.
	SecretKey     Secret // key list itself (see README, Security)
	SecretKeyFile string // or a file holding it

	ProbeAllow []netip.Prefix // empty: every address the deny list does not name
	ProbeDeny  []netip.Prefix

	// wardops sim: the fleet simulator.
	SimAddrs      string // address list/ranges; overrides SimBase+SimCount
	SimBase       string
	SimCount      int
	SimPort       int
	SimCommunity  Secret
	SimInterfaces int
	SimV3User     string
	SimV3Auth     string
	SimV3AuthKey  Secret
	SimV3Priv     string
	SimV3PrivKey  Secret

	LogLevel  string
	LogFormat string

	DevPGPort  int // wardops dev: private PostgreSQL port
	DevVMPort  int // wardops dev: private VictoriaMetrics port
	DevDevices int // wardops dev: demo fleet size

	Check  bool // validate and exit
	DryRun bool // import: validate only
}

// TimeOfDay is a wall-clock time, read in a time zone to become an instant each day.
type TimeOfDay struct{ Hour, Minute int }

func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", t.Hour, t.Minute) }

// ErrUsage is returned (wrapped) for every bad setting; main exits with status 2 on it.
var ErrUsage = errors.New("invalid configuration")

// part is a group of settings that one component reads; a subcommand uses the parts it runs.
type part uint16

const (
	pDB          part = 1 << iota // PostgreSQL access
	pCollector                    // probing, pushing, spooling
	pQuery                        // REST API and NOC page
	pImport                       // inventory import
	pMaintenance                  // retention
	pSim                          // fleet simulator
	pDev                          // wardops dev's private servers
	pHealth                       // wardops healthcheck
	pCommon                       // logging and --check: every subcommand has them
	pAlerter                      // alert evaluation and Alertmanager notification
	pAll         part = 1<<16 - 1
)

// commandParts says which settings each subcommand reads: it registers only their flags, and
// validates only them, so a collector-only rule cannot fail `wardops migrate`.
var commandParts = map[string]part{
	"migrate": pDB,
	"import":  pDB | pImport,
	// The collector runs the daily retention job (under an advisory lock, so one instance does), so
	// it reads the maintenance settings too.
	"collector":   pDB | pCollector | pMaintenance,
	"query":       pDB | pQuery,
	"alerter":     pDB | pAlerter,
	"run":         pDB | pCollector | pQuery | pAlerter | pMaintenance,
	"dev":         pDB | pCollector | pQuery | pSim | pDev | pImport | pAlerter | pMaintenance,
	"maintenance": pDB | pMaintenance,
	"token":       pDB,
	"audit":       pDB,
	"sim":         pSim,
	"healthcheck": pHealth,
	"version":     0,
	"defaults":    pAll, // Defaults: every setting at its default
}

type setting struct {
	parts                part
	flag, env, def, help string
	set                  func(c *Config, v string) error
}

func settings() []setting {
	str := func(dst func(*Config) *string) func(*Config, string) error {
		return func(c *Config, v string) error { *dst(c) = v; return nil }
	}
	dur := func(dst func(*Config) *time.Duration) func(*Config, string) error {
		return func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return err
			}
			if d <= 0 {
				return errors.New("must be positive")
			}
			*dst(c) = d
			return nil
		}
	}
	num := func(dst func(*Config) *int, min int) func(*Config, string) error {
		return func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errors.New("not an integer")
			}
			if n < min {
				return fmt.Errorf("must be at least %d", min)
			}
			*dst(c) = n
			return nil
		}
	}
	boolean := func(dst func(*Config) *bool) func(*Config, string) error {
		return func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return errors.New("not a boolean")
			}
			*dst(c) = b
			return nil
		}
	}
	list := func(dst func(*Config) *[]string) func(*Config, string) error {
		return func(c *Config, v string) error {
			*dst(c) = nil
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					*dst(c) = append(*dst(c), strings.ToLower(f))
				}
			}
			return nil
		}
	}
	return []setting{
		{pDB, "database-url", "WARDOPS_DATABASE_URL", "", "PostgreSQL URL (postgres://user@host:5432/db)", func(c *Config, v string) error { c.DatabaseURL = Secret(v); return nil }},
		{pDB, "database-password-file", "WARDOPS_DATABASE_PASSWORD_FILE", "", "file holding the PostgreSQL password (a compose secret); the URL then carries only the user", str(func(c *Config) *string { return &c.DatabasePasswordFile })},
		{pCollector | pQuery, "vm-url", "WARDOPS_VM_URL", "", "VictoriaMetrics base URL for writes: a single node (http://127.0.0.1:8428) or a vminsert http://vminsert:8480/insert/TENANT/prometheus (TENANT: accountID or accountID:projectID)", str(func(c *Config) *string { return &c.VMURL })},
		{pQuery | pAlerter, "vm-query-url", "WARDOPS_VM_QUERY_URL", "", "VictoriaMetrics base URL for reads: a single node (default: WARDOPS_VM_URL) or a vmselect http://vmselect:8481/select/TENANT/prometheus, required with a vminsert WARDOPS_VM_URL and naming the same TENANT", str(func(c *Config) *string { return &c.VMQueryURL })},
		{pQuery, "listen", "WARDOPS_LISTEN", "127.0.0.1:5001", "query service listen address (loopback unless set)", str(func(c *Config) *string { return &c.Listen })},
		{pCollector, "collector-listen", "WARDOPS_COLLECTOR_LISTEN", "127.0.0.1:5002", "collector /metrics listen address (loopback unless set)", str(func(c *Config) *string { return &c.CollectorListen })},
		{pCollector, "pprof-listen", "WARDOPS_PPROF_LISTEN", "", "collector /debug/pprof listen address, a listener of its own (empty: profiling off)", str(func(c *Config) *string { return &c.PprofListen })},
		{pCollector | pQuery, "tls-cert-file", "WARDOPS_TLS_CERT_FILE", "", "PEM certificate for both HTTP listeners (with WARDOPS_TLS_KEY_FILE; re-read on SIGHUP)", str(func(c *Config) *string { return &c.TLSCertFile })},
		{pCollector | pQuery, "tls-key-file", "WARDOPS_TLS_KEY_FILE", "", "PEM private key matching WARDOPS_TLS_CERT_FILE", str(func(c *Config) *string { return &c.TLSKeyFile })},
		{pCollector | pQuery, "allowed-hosts", "WARDOPS_ALLOWED_HOSTS", "", "comma-separated Host header names accepted besides IP literals and localhost (* accepts any)", list(func(c *Config) *[]string { return &c.AllowedHosts })},
		{pQuery, "trusted-proxies", "WARDOPS_TRUSTED_PROXIES", "", "comma-separated proxy CIDRs whose X-Forwarded-For names the client (rate limit); empty trusts none", func(c *Config, v string) error {
			ps, err := prefixes(v)
			for _, p := range ps {
				c.TrustedProxies = append(c.TrustedProxies, p.String())
			}
			return err
		}},
		{pCollector, "data-dir", "WARDOPS_DATA_DIR", "./var/data", "local state (spool files)", str(func(c *Config) *string { return &c.DataDir })},
		{pImport | pQuery, "profiles-dir", "WARDOPS_PROFILES_DIR", "", "extra SNMP profile YAML files (added to the built-in ones)", str(func(c *Config) *string { return &c.ProfilesDir })},
		{pCollector | pQuery | pAlerter, "ping-interval", "WARDOPS_PING_INTERVAL", "30s", "default ICMP probe interval", dur(func(c *Config) *time.Duration { return &c.PingInterval })},
		{pCollector, "ping-count", "WARDOPS_PING_COUNT", "3", "echo requests per probe", num(func(c *Config) *int { return &c.PingCount }, 1)},
		{pCollector, "ping-timeout", "WARDOPS_PING_TIMEOUT", "2s", "how long a probe waits for its last reply", dur(func(c *Config) *time.Duration { return &c.PingTimeout })},
		{pCollector, "ping-echo-interval", "WARDOPS_PING_ECHO_INTERVAL", "200ms", "pause between the echo requests of one probe", dur(func(c *Config) *time.Duration { return &c.PingEcho })},
		{pCollector, "icmp-engine", "WARDOPS_ICMP_ENGINE", "shared", "ICMP engine: shared (one socket, the default) or probing (pro-bing, one pinger per probe)", str(func(c *Config) *string { return &c.ICMPEngine })},
		{pCollector, "icmp-mode", "WARDOPS_ICMP_MODE", "auto", "ICMP sockets: auto, raw or udp (unprivileged datagram ICMP)", str(func(c *Config) *string { return &c.ICMPMode })},
		{pCollector, "snmp-interval", "WARDOPS_SNMP_INTERVAL", "60s", "default SNMP poll interval", dur(func(c *Config) *time.Duration { return &c.SNMPInterval })},
		{pCollector, "snmp-timeout", "WARDOPS_SNMP_TIMEOUT", "2s", "SNMP request timeout per device", dur(func(c *Config) *time.Duration { return &c.SNMPTimeout })},
		{pCollector, "snmp-retries", "WARDOPS_SNMP_RETRIES", "1", "SNMP retries per request", num(func(c *Config) *int { return &c.SNMPRetries }, 0)},
		{pCollector, "probe-workers", "WARDOPS_PROBE_WORKERS", "0", "ICMP probes in flight at most (0: 4096 with the shared engine, 256 with probing)", num(func(c *Config) *int { return &c.ProbeWorkers }, 0)},
		{pCollector, "snmp-workers", "WARDOPS_SNMP_WORKERS", "128", "SNMP polls in flight at most", num(func(c *Config) *int { return &c.SNMPWorkers }, 1)},
		{pCollector, "inventory-reload", "WARDOPS_INVENTORY_RELOAD", "10s", "how often the collector re-reads the inventory", dur(func(c *Config) *time.Duration { return &c.InventoryReload })},
		{pCollector, "collector-id", "WARDOPS_COLLECTOR_ID", "", "this collector's name among those sharing the database (default: host name and the port of WARDOPS_COLLECTOR_LISTEN)", str(func(c *Config) *string { return &c.CollectorID })},
		{pCollector, "collector-zone", "WARDOPS_COLLECTOR_ZONE", "", "probe only devices of this region (and of regions that have no collector); empty: any region", str(func(c *Config) *string { return &c.CollectorZone })},
		{pCollector, "collector-lease", "WARDOPS_COLLECTOR_LEASE", "10s", "how long a collector's heartbeat counts; a collector silent for longer loses its devices to the others", dur(func(c *Config) *time.Duration { return &c.CollectorLease })},
		{pCollector, "push-batch", "WARDOPS_PUSH_BATCH", "5000", "samples per VictoriaMetrics request at most", num(func(c *Config) *int { return &c.PushBatch }, 1)},
		{pCollector, "push-interval", "WARDOPS_PUSH_INTERVAL", "1s", "longest a sample waits before it is pushed", dur(func(c *Config) *time.Duration { return &c.PushInterval })},
		{pCollector, "vm-replay-span", "WARDOPS_VM_REPLAY_SPAN", "30s", "samples VictoriaMetrics acknowledged in this span are sent again after a connection failure, in case a crash lost them (0: off)", func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return errors.New("must be a duration of 0 or more")
			}
			c.VMReplaySpan = d
			return nil
		}},
		{pCollector, "spool-max-size", "WARDOPS_SPOOL_MAX_SIZE", "1073741824", "bytes of on-disk spool at most; oldest dropped beyond", func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1<<20 {
				return errors.New("must be an integer of at least 1048576 bytes")
			}
			c.SpoolMaxSize = n
			return nil
		}},
		{pDB, "db-max-conns", "WARDOPS_DB_MAX_CONNS", "10", "PostgreSQL pool size", num(func(c *Config) *int { return &c.DBMaxConns }, 1)},
		{pDB, "db-connect-timeout", "WARDOPS_DB_CONNECT_TIMEOUT", "10s", "PostgreSQL connect timeout", dur(func(c *Config) *time.Duration { return &c.DBConnectTimeout })},
		{pDB, "db-max-conn-lifetime", "WARDOPS_DB_MAX_CONN_LIFETIME", "30m", "PostgreSQL connection lifetime", dur(func(c *Config) *time.Duration { return &c.DBMaxConnLifetime })},
		{pDB, "db-health-check-period", "WARDOPS_DB_HEALTH_CHECK_PERIOD", "30s", "PostgreSQL idle connection health check period", dur(func(c *Config) *time.Duration { return &c.DBHealthCheckPeriod })},
		{pDB, "db-statement-timeout", "WARDOPS_DB_STATEMENT_TIMEOUT", "30s", "PostgreSQL statement_timeout per session", dur(func(c *Config) *time.Duration { return &c.DBStatementTimeout })},
		{pDB, "db-idle-in-tx-timeout", "WARDOPS_DB_IDLE_IN_TX_TIMEOUT", "60s", "PostgreSQL idle_in_transaction_session_timeout", dur(func(c *Config) *time.Duration { return &c.DBIdleInTxTimeout })},
		{pMaintenance, "retention-days", "WARDOPS_RETENTION_DAYS", "30", "days of ping_results kept", num(func(c *Config) *int { return &c.RetentionDays }, 1)},
		{pMaintenance, "alert-retention-days", "WARDOPS_ALERT_RETENTION_DAYS", "365", "days resolved alert_history rows are kept (open alerts always stay)", num(func(c *Config) *int { return &c.AlertRetentionDays }, 1)},
		{pMaintenance, "retention-schedule", "WARDOPS_RETENTION_SCHEDULE", "03:00", "daily time (HH:MM in --retention-zone) the collector runs retention; off leaves it to cron and wardops maintenance", func(c *Config, v string) error {
			c.RetentionSchedule = v
			if v == "off" {
				c.RetentionOff = true
				return nil
			}
			at, err := time.Parse("15:04", v)
			if err != nil {
				return errors.New("must be HH:MM (24-hour) or off")
			}
			c.RetentionAt = TimeOfDay{at.Hour(), at.Minute()}
			return nil
		}},
		{pMaintenance, "retention-zone", "WARDOPS_RETENTION_ZONE", "UTC", "IANA time zone of --retention-schedule, e.g. Asia/Tbilisi (Local: the machine's)", func(c *Config, v string) error {
			loc, err := time.LoadLocation(v)
			if err != nil {
				return errors.New("not a known time zone (is tzdata installed?)")
			}
			c.RetentionZone = loc
			return nil
		}},
		{pQuery, "require-read-token", "WARDOPS_REQUIRE_READ_TOKEN", "false", "require an API token for reads too", boolean(func(c *Config) *bool { return &c.RequireReadToken })},
		{pQuery, "rate-limit", "WARDOPS_RATE_LIMIT", "50", "API requests per second per client (0: off)", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return errors.New("must be a non-negative number")
			}
			c.RateLimit = f
			return nil
		}},
		{pQuery, "rate-limit-loopback", "WARDOPS_RATE_LIMIT_LOOPBACK", "true", "rate-limit loopback clients too (false exempts them: only without a proxy on the same host)", boolean(func(c *Config) *bool { return &c.RateLimitLocal })},
		{pQuery, "cache-ttl", "WARDOPS_CACHE_TTL", "1s", "dashboard cache lifetime", dur(func(c *Config) *time.Duration { return &c.CacheTTL })},
		{pQuery, "cache-build-share", "WARDOPS_CACHE_BUILD_SHARE", "0.1", "most of the time spent rebuilding the dashboard snapshot: a build that took d is served for at least d×(1/share−1), at most 30 s (1: back to back)", func(c *Config, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0 && f <= 1) {
				return errors.New("must be a number above 0 and at most 1")
			}
			c.CacheBuildShare = f
			return nil
		}},
		{pAlerter | pQuery, "alertmanager-url", "WARDOPS_ALERTMANAGER_URL", "", "Alertmanager base URLs, comma-separated; each gets every notification and mirrors acknowledgements as silences (empty: alerts are recorded only)", func(c *Config, v string) error {
			c.AlertmanagerURLs = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u == "" {
					continue
				}
				p, err := url.Parse(u)
				if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
					return fmt.Errorf("%q must be an http(s) URL", u)
				}
				c.AlertmanagerURLs = append(c.AlertmanagerURLs, strings.TrimRight(u, "/"))
			}
			return nil
		}},
		{pAlerter, "alerter-listen", "WARDOPS_ALERTER_LISTEN", "127.0.0.1:5003", "alerter /metrics listen address (loopback unless set)", str(func(c *Config) *string { return &c.AlerterListen })},
		{pAlerter, "alert-down-interval", "WARDOPS_ALERT_DOWN_INTERVAL", "2s", "how often down detection reads the probes that landed in ping_results", dur(func(c *Config) *time.Duration { return &c.AlertDownInterval })},
		{pAlerter, "alert-eval-interval", "WARDOPS_ALERT_EVAL_INTERVAL", "30s", "how often the threshold rules run (in memory for the defaults, one VictoriaMetrics query per expression rule)", dur(func(c *Config) *time.Duration { return &c.AlertEvalInterval })},
		{pAlerter, "alert-resend-interval", "WARDOPS_ALERT_RESEND_INTERVAL", "60s", "how often firing alerts are re-sent to Alertmanager", dur(func(c *Config) *time.Duration { return &c.AlertResendInterval })},
		{pAlerter, "alert-resolved-resend", "WARDOPS_ALERT_RESOLVED_RESEND", "15m", "how long resolved alerts are re-sent", dur(func(c *Config) *time.Duration { return &c.AlertResolvedResend })},
		{pAlerter, "alertmanager-timeout", "WARDOPS_ALERTMANAGER_TIMEOUT", "10s", "per-request timeout to each Alertmanager (and per VictoriaMetrics rule query)", dur(func(c *Config) *time.Duration { return &c.AlertmanagerTimeout })},
		{pAlerter, "alertmanager-group-wait", "WARDOPS_ALERTMANAGER_GROUP_WAIT", "30s", "the Alertmanager route's group_wait: a resolution is held this long after its firing was delivered so both are notified", dur(func(c *Config) *time.Duration { return &c.AlertmanagerGroupWait })},
		{pAlerter, "external-url", "WARDOPS_EXTERNAL_URL", "http://127.0.0.1:5001", "the query service's URL as people reach it, for links in alerts", str(func(c *Config) *string { return &c.ExternalURL })},
		{pDB, "secret-key", "WARDOPS_SECRET_KEY", "", "keys sealing SNMP secrets in the database: ID:BASE64 entries (32 bytes each), comma-separated, the first encrypts", func(c *Config, v string) error { c.SecretKey = Secret(v); return nil }},
		{pDB, "secret-key-file", "WARDOPS_SECRET_KEY_FILE", "", "file holding WARDOPS_SECRET_KEY's value, one entry a line", str(func(c *Config) *string { return &c.SecretKeyFile })},
		{pCollector | pQuery | pImport, "probe-allow", "WARDOPS_PROBE_ALLOW", "", "comma-separated networks SNMP and ICMP may be sent to (empty: all but the deny list)", func(c *Config, v string) error {
			ps, err := prefixes(v)
			c.ProbeAllow = ps
			return err
		}},
		{pCollector | pQuery | pImport, "probe-deny", "WARDOPS_PROBE_DENY", "169.254.0.0/16,fe80::/10", "comma-separated networks SNMP and ICMP are never sent to (wins over the allow list)", func(c *Config, v string) error {
			ps, err := prefixes(v)
			c.ProbeDeny = ps
			return err
		}},
		{pSim, "sim-addrs", "WARDOPS_SIM_ADDRS", "", "sim: loopback addresses and ranges, e.g. 127.20.0.1-127.20.3.90 (overrides --sim-base/--sim-count)", str(func(c *Config) *string { return &c.SimAddrs })},
		{pSim, "sim-base", "WARDOPS_SIM_BASE", "127.20.0.1", "sim: first address of --sim-count consecutive devices", str(func(c *Config) *string { return &c.SimBase })},
		{pSim, "sim-count", "WARDOPS_SIM_COUNT", "875", "sim: number of devices from --sim-base", num(func(c *Config) *int { return &c.SimCount }, 1)},
		{pSim, "sim-port", "WARDOPS_SIM_PORT", "1161", "sim: UDP port every device answers on", num(func(c *Config) *int { return &c.SimPort }, 1)},
		{pSim, "sim-community", "WARDOPS_SIM_COMMUNITY", "public", "sim: v1/v2c community (empty: v1/v2c off)", func(c *Config, v string) error { c.SimCommunity = Secret(v); return nil }},
		{pSim, "sim-interfaces", "WARDOPS_SIM_INTERFACES", "8", "sim: interfaces per device", num(func(c *Config) *int { return &c.SimInterfaces }, 1)},
		{pSim, "sim-v3-user", "WARDOPS_SIM_V3_USER", "", "sim: SNMPv3 user (empty: v3 off)", str(func(c *Config) *string { return &c.SimV3User })},
		{pSim, "sim-v3-auth", "WARDOPS_SIM_V3_AUTH", "SHA", "sim: v3 auth protocol (MD5, SHA, SHA224, SHA256, SHA384, SHA512)", str(func(c *Config) *string { return &c.SimV3Auth })},
		{pSim, "sim-v3-auth-key", "WARDOPS_SIM_V3_AUTH_KEY", "", "sim: v3 auth passphrase", func(c *Config, v string) error { c.SimV3AuthKey = Secret(v); return nil }},
		{pSim, "sim-v3-priv", "WARDOPS_SIM_V3_PRIV", "AES", "sim: v3 privacy protocol (empty for authNoPriv; DES, AES, AES192, AES256, AES192C, AES256C)", str(func(c *Config) *string { return &c.SimV3Priv })},
		{pSim, "sim-v3-priv-key", "WARDOPS_SIM_V3_PRIV_KEY", "", "sim: v3 privacy passphrase", func(c *Config, v string) error { c.SimV3PrivKey = Secret(v); return nil }},
		{pCommon, "log-level", "WARDOPS_LOG_LEVEL", "info", "debug, info, warn or error", str(func(c *Config) *string { return &c.LogLevel })},
		{pCommon, "log-format", "WARDOPS_LOG_FORMAT", "text", "text or json", str(func(c *Config) *string { return &c.LogFormat })},
		{pDev, "dev-pg-port", "WARDOPS_DEV_PG_PORT", "55432", "wardops dev: loopback port of the private PostgreSQL", num(func(c *Config) *int { return &c.DevPGPort }, 1)},
		{pDev, "dev-vm-port", "WARDOPS_DEV_VM_PORT", "58428", "wardops dev: loopback port of the private VictoriaMetrics", num(func(c *Config) *int { return &c.DevVMPort }, 1)},
		{pDev, "dev-devices", "WARDOPS_DEV_DEVICES", "875", "wardops dev: demo fleet size (on 127.20.0.0/16)", num(func(c *Config) *int { return &c.DevDevices }, 1)},
		{pCommon, "check", "", "false", "validate the configuration and exit", boolean(func(c *Config) *bool { return &c.Check })},
		{pImport, "dry-run", "", "false", "import: validate the file (and against the database when one is configured), write nothing", boolean(func(c *Config) *bool { return &c.DryRun })},
	}
}

// Parse reads flags from args (after the subcommand name) with WARDOPS_* variables from getenv as
// their defaults, validates the result and returns the positional arguments left over.
// Every error wraps ErrUsage and names the flag or variable it came from.
func Parse(cmd string, args []string, getenv func(string) string, usageOut io.Writer) (*Config, []string, error) {
	c := &Config{}
	fs := flag.NewFlagSet("wardops "+cmd, flag.ContinueOnError)
	fs.SetOutput(usageOut)
	uses, ok := commandParts[cmd]
	if !ok {
		return nil, nil, fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
	}
	uses |= pCommon
	var all []setting
	for _, s := range settings() {
		if s.parts&uses != 0 {
			all = append(all, s)
		}
	}
	fromFlag := map[string]bool{}
	values := map[string]*string{}
	for _, s := range all {
		v := s.def
		if s.env != "" {
			if e := getenv(s.env); e != "" {
				v = e
			}
		}
		val := v
		values[s.flag] = &val
		help := s.help
		if s.env != "" {
			help += " [" + s.env + "]"
		}
		setFlag := func(x string) error {
			*values[s.flag] = x
			fromFlag[s.flag] = true
			return nil
		}
		// Boolean settings (their default is a boolean) work as bare --flag, like flag.Bool.
		if s.def == "true" || s.def == "false" {
			fs.BoolFunc(s.flag, help+" (default "+s.def+")", setFlag)
		} else {
			fs.Func(s.flag, help+" (default "+strconv.Quote(s.def)+")", setFlag)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	for _, s := range all {
		v := *values[s.flag]
		if err := s.set(c, v); err != nil {
			name := s.env
			if fromFlag[s.flag] || name == "" {
				name = "--" + s.flag
			}
			return nil, nil, fmt.Errorf("%w: %s=%q: %w", ErrUsage, name, v, err)
		}
	}
	if err := c.validate(uses); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return c, fs.Args(), nil
}

// Defaults returns every setting at its default, as a subcommand sees it with no flags and no
// WARDOPS_* variables. The packages below config keep no defaults of their own for these
// settings; tests build their options from this.
func Defaults() *Config {
	c, _, err := Parse("defaults", nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		panic("config: the defaults do not validate: " + err.Error())
	}
	return c
}

// validate checks the settings of the parts a subcommand uses, and only those.
func (c *Config) validate(uses part) error {
	var errs []error
	check := func(p part, f func() error) {
		if uses&p != 0 {
			if err := f(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	check(pCollector|pQuery|pAlerter, func() error { return c.validateVM(uses) })
	check(pAlerter, func() error { return validListen("WARDOPS_ALERTER_LISTEN", c.AlerterListen) })
	check(pDB, c.validateDatabase)
	check(pHealth, func() error { return nil })
	check(pQuery, func() error { return validListen("WARDOPS_LISTEN", c.Listen) })
	check(pCollector, func() error { return validListen("WARDOPS_COLLECTOR_LISTEN", c.CollectorListen) })
	check(pCollector, c.validateProbing)
	check(pCollector|pQuery, c.validateTLS)
	check(pCollector, func() error {
		if c.PprofListen == "" {
			return nil
		}
		if c.PprofListen == c.CollectorListen {
			return fmt.Errorf("WARDOPS_PPROF_LISTEN=%q: must differ from WARDOPS_COLLECTOR_LISTEN", c.PprofListen)
		}
		return validListen("WARDOPS_PPROF_LISTEN", c.PprofListen)
	})
	check(pDB, func() error {
		if c.SecretKey != "" && c.SecretKeyFile != "" {
			return errors.New("WARDOPS_SECRET_KEY and WARDOPS_SECRET_KEY_FILE: set one, not both")
		}
		return nil
	})
	check(pCommon, c.validateLog)
	// One error at a time: the first is the one to fix, and the message names its setting.
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// validateVM checks the VictoriaMetrics URLs and fills the read URL in. A single node serves
// writes and reads at one base URL; a cluster takes writes at vminsert and reads at vmselect,
// two services on their own addresses, so a vminsert write URL needs an explicit read URL
// rather than a guess at vmselect's address. Both must name the same tenant: the query service
// and the alerter read what the collector wrote, or they would see an empty database.
func (c *Config) validateVM(uses part) error {
	w, err := parseVMURL("WARDOPS_VM_URL", c.VMURL, "insert")
	if err != nil {
		return err
	}
	c.VMURL, c.VMTenant = w.base, w.tenant
	if uses&(pQuery|pAlerter) == 0 {
		return nil
	}
	if c.VMQueryURL == "" {
		if w.tenant != "" {
			return fmt.Errorf("WARDOPS_VM_QUERY_URL is required with a vminsert WARDOPS_VM_URL (%q): reads go to vmselect, e.g. http://vmselect:8481/select/%s/prometheus",
				c.VMURL, w.tenant)
		}
		c.VMQueryURL = c.VMURL
		return nil
	}
	r, err := parseVMURL("WARDOPS_VM_QUERY_URL", c.VMQueryURL, "select")
	if err != nil {
		return err
	}
	c.VMQueryURL = r.base
	if c.VMURL == "" {
		c.VMTenant = r.tenant // the alerter reads only
	}
	if c.VMURL != "" && r.tenant != w.tenant {
		return fmt.Errorf("WARDOPS_VM_QUERY_URL reads %s and WARDOPS_VM_URL writes %s: they must name the same VictoriaMetrics (single node, or one cluster tenant)",
			vmTenantName(r.tenant), vmTenantName(w.tenant))
	}
	return nil
}

// vmURL is a VictoriaMetrics base URL taken apart: base without a trailing slash, and the
// cluster tenant its path names ("" for a single node).
type vmURL struct{ base, tenant string }

// parseVMURL accepts a single node's base URL (http://host:8428, optionally under a reverse
// proxy's path prefix) or a cluster service's, path ending in /<role>/<tenant>/prometheus with
// role insert (vminsert, for writes) or select (vmselect, for reads) and tenant accountID or
// accountID:projectID, 32-bit unsigned integers as VictoriaMetrics cluster reads them. wardops
// appends the API paths itself, so a URL that already carries one is refused, naming the fix.
func parseVMURL(name, v, role string) (vmURL, error) {
	if v == "" {
		return vmURL{}, nil
	}
	p, err := url.Parse(v)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return vmURL{}, fmt.Errorf("%s=%q: must be an http(s) URL", name, v)
	}
	if p.RawQuery != "" || p.Fragment != "" {
		return vmURL{}, fmt.Errorf("%s=%q: must be a base URL with no query string or fragment", name, v)
	}
	path := strings.TrimRight(p.Path, "/")
	if i := strings.Index(path, "/api/v1/"); i >= 0 {
		return vmURL{}, fmt.Errorf("%s=%q: give the base URL without %s; wardops appends the API path", name, v, path[i:])
	}
	other := map[string]string{"insert": "select", "select": "insert"}[role]
	segs := strings.Split(path, "/")
	for i, s := range segs {
		switch s {
		case other:
			return vmURL{}, fmt.Errorf("%s=%q: a /%s/ URL is for %s; this setting takes a single node or a vm%s .../%s/<tenant>/prometheus URL",
				name, v, other, map[string]string{"insert": "writes", "select": "reads"}[other], role, role)
		case role:
			if i != len(segs)-3 || segs[len(segs)-1] != "prometheus" {
				return vmURL{}, fmt.Errorf("%s=%q: a cluster URL ends in /%s/<tenant>/prometheus", name, v, role)
			}
			tenant := segs[i+1]
			if !validTenant(tenant) {
				return vmURL{}, fmt.Errorf("%s=%q: tenant %q must be accountID or accountID:projectID (unsigned 32-bit integers)", name, v, tenant)
			}
			p.Path = path
			return vmURL{base: p.String(), tenant: tenant}, nil
		}
	}
	p.Path = path
	return vmURL{base: p.String()}, nil
}

func validTenant(t string) bool {
	acc, proj, two := strings.Cut(t, ":")
	for i, n := range []string{acc, proj} {
		if i == 1 && !two {
			break
		}
		if n == "" || strings.TrimLeft(n, "0123456789") != "" {
			return false
		}
		if _, err := strconv.ParseUint(n, 10, 32); err != nil {
			return false
		}
	}
	return true
}

func vmTenantName(t string) string {
	if t == "" {
		return "a single node"
	}
	return "tenant " + t
}

func (c *Config) validateDatabase() error {
	if c.DatabaseURL == "" {
		if c.DatabasePasswordFile != "" {
			return errors.New("WARDOPS_DATABASE_PASSWORD_FILE is set without WARDOPS_DATABASE_URL")
		}
		return nil
	}
	p, err := url.Parse(string(c.DatabaseURL))
	if err != nil || (p.Scheme != "postgres" && p.Scheme != "postgresql") {
		return fmt.Errorf("WARDOPS_DATABASE_URL: must be a postgres:// URL")
	}
	if c.DatabasePasswordFile == "" {
		return nil
	}
	if _, has := p.User.Password(); has {
		return errors.New("WARDOPS_DATABASE_URL carries a password and WARDOPS_DATABASE_PASSWORD_FILE is set: keep one")
	}
	if p.User.Username() == "" {
		return errors.New("WARDOPS_DATABASE_PASSWORD_FILE needs a user in WARDOPS_DATABASE_URL (postgres://user@host/db)")
	}
	b, err := os.ReadFile(c.DatabasePasswordFile)
	if err != nil {
		return fmt.Errorf("WARDOPS_DATABASE_PASSWORD_FILE: %w", err)
	}
	// Secret files usually end in a newline that is not part of the password.
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return fmt.Errorf("WARDOPS_DATABASE_PASSWORD_FILE=%q is empty", c.DatabasePasswordFile)
	}
	p.User = url.UserPassword(p.User.Username(), pw)
	c.DatabaseURL = Secret(p.String())
	return nil
}

func validListen(name, v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Errorf("%s=%q: must be host:port", name, v)
	}
	return nil
}

func (c *Config) validateProbing() error {
	switch c.ICMPEngine {
	case "probing", "shared":
	default:
		return fmt.Errorf("WARDOPS_ICMP_ENGINE=%q: must be probing or shared", c.ICMPEngine)
	}
	switch c.ICMPMode {
	case "auto", "raw", "udp":
	default:
		return fmt.Errorf("WARDOPS_ICMP_MODE=%q: must be auto, raw or udp", c.ICMPMode)
	}
	if c.ProbeWorkers == 0 {
		// The shared engine's probe is a goroutine waiting on one socket; pro-bing's is a socket
		// of its own that sees every reply on the host, so it must stay few.
		c.ProbeWorkers = 4096
		if c.ICMPEngine == "probing" {
			c.ProbeWorkers = 256
		}
	}
	if c.CollectorID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "collector"
		}
		_, port, _ := net.SplitHostPort(c.CollectorListen)
		c.CollectorID = host + ":" + port
	}
	if c.PingTimeout >= c.PingInterval {
		return fmt.Errorf("WARDOPS_PING_TIMEOUT (%s) must be shorter than WARDOPS_PING_INTERVAL (%s)", c.PingTimeout, c.PingInterval)
	}
	// A probe lasts (count-1) echo intervals plus the timeout; longer than the interval and every
	// round after the first would be skipped.
	if probe := time.Duration(c.PingCount-1)*c.PingEcho + c.PingTimeout; probe >= c.PingInterval {
		return fmt.Errorf("a probe (WARDOPS_PING_COUNT-1 × WARDOPS_PING_ECHO_INTERVAL + WARDOPS_PING_TIMEOUT = %s) must be shorter than WARDOPS_PING_INTERVAL (%s)", probe, c.PingInterval)
	}
	return nil
}

func (c *Config) validateTLS() error {
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("WARDOPS_TLS_CERT_FILE and WARDOPS_TLS_KEY_FILE: set both or neither")
	}
	return nil
}

// prefixes parses a comma-separated list of networks; a bare address is a network of one.
func prefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a network (CIDR) or address", f)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c *Config) validateLog() error {
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("WARDOPS_LOG_LEVEL=%q: must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("WARDOPS_LOG_FORMAT=%q: must be text or json", c.LogFormat)
	}
	return nil
}

// RequireDatabase returns a usage error when no database URL was given.
func (c *Config) RequireDatabase() error {
	if c.DatabaseURL == "" {
		return fmt.Errorf("%w: WARDOPS_DATABASE_URL (or --database-url) is required", ErrUsage)
	}
	return nil
}
