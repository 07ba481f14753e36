// Package retention runs the daily cleanup of PostgreSQL: ping_results past their retention
// (whole daily partitions dropped, the boundary day trimmed to the exact cutoff), resolved
// alert_history rows past theirs, and the ping_results partitions created ahead. The collector
// runs it on a schedule (a wall-clock time in a configured zone) under a PostgreSQL advisory
// lock, so of several collectors on one database exactly one does the work each day;
// `wardops maintenance` runs the same job once, for cron.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wardops/wardops/store"
)

// LockKey is the PostgreSQL advisory lock the job holds while it runs ("wardops retention"
// as eight bytes), shared by every wardops process on a database.
const LockKey int64 = 0x7761_7264_7265_746e

// Store is what the job needs from PostgreSQL; *store.Store has it.
type Store interface {
	WithAdvisoryLock(ctx context.Context, key int64, fn func(ctx context.Context) error) (bool, error)
	EnsurePingPartitions(ctx context.Context, from time.Time, days int) (int, error)
	PurgePingResultsBefore(ctx context.Context, cutoff time.Time) (store.PingPurge, error)
	DeleteResolvedAlertsBefore(ctx context.Context, cutoff time.Time) (int64, error)
}

// Options configure a Job. Every field but Now and Metrics is required.
type Options struct {
	Store          Store
	PingRetention  time.Duration // ping_results older than now − PingRetention go
	AlertRetention time.Duration // alert_history resolved before now − AlertRetention goes
	Hour, Minute   int           // the daily wall-clock time of a run, in Zone
	Zone           *time.Location
	Log            *slog.Logger
	// Metrics receives the job's self-metrics (see Help); nil keeps none.
	Metrics *metrics.Set
	// Now is the clock the schedule and the cutoffs are read from; default time.Now. Tests set it
	// to put a run a moment away and to know its cutoffs exactly.
	Now func() time.Time
}

// Result is what one run did.
type Result struct {
	Skipped           bool // another instance held the lock
	PartitionsCreated int
	PingCutoff        time.Time
	PingPartitions    []string // dropped whole
	PingRows          int64    // deleted from the boundary day
	AlertCutoff       time.Time
	AlertRows         int64
	Duration          time.Duration
}

// Help is the HELP text of the job's metric families, for the /metrics page that serves them.
var Help = map[string]string{
	"wardops_retention_runs_total":                    "Retention runs, by result (ok, failed, skipped: another instance held the lock).",
	"wardops_retention_last_run_timestamp_seconds":    "When the last retention run that held the lock finished.",
	"wardops_retention_last_duration_seconds":         "How long the last retention run that held the lock took.",
	"wardops_retention_last_cutoff_timestamp_seconds": "The cutoff of the last retention run, by table: rows older went.",
	"wardops_retention_deleted_rows_total":            "Rows deleted by retention, by table (ping_results counts only the trimmed boundary day).",
	"wardops_retention_dropped_partitions_total":      "ping_results daily partitions dropped whole by retention.",
	"wardops_retention_next_run_timestamp_seconds":    "When the next scheduled retention run starts.",
}

// Job is the retention job. Run schedules it; RunOnce runs it now.
type Job struct {
	o Options
	m *jobMetrics
}

// New checks o and returns the job.
func New(o Options) (*Job, error) {
	if o.Store == nil || o.Log == nil || o.Zone == nil {
		return nil, errors.New("cannot create retention job: Store, Log and Zone are required")
	}
	if o.Hour < 0 || o.Hour > 23 || o.Minute < 0 || o.Minute > 59 {
		return nil, fmt.Errorf("cannot create retention job: %02d:%02d is not a time of day", o.Hour, o.Minute)
	}
	if o.PingRetention <= 0 || o.AlertRetention <= 0 {
		return nil, errors.New("cannot create retention job: retentions must be positive")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Job{o: o, m: newJobMetrics(o.Metrics)}, nil
}

// Next returns the first scheduled run strictly after t: o.Hour:o.Minute on t's day or the next in o.Zone.
// A wall time a daylight-saving change skips is normalised by time.Date (02:30 on a spring-forward
// night runs at 03:30); one that happens twice runs once, at its first occurrence.
func (j *Job) Next(t time.Time) time.Time {
	l := t.In(j.o.Zone)
	for d := 0; ; d++ {
		n := time.Date(l.Year(), l.Month(), l.Day()+d, j.o.Hour, j.o.Minute, 0, 0, j.o.Zone)
		if n.After(t) {
			return n
		}
	}
}

// Run runs the job at every scheduled time until ctx ends. A failed run is logged and counted,
// and the next day's run tries again; only ctx ends Run.
func (j *Job) Run(ctx context.Context) error {
	next := j.Next(j.o.Now())
	j.o.Log.Info("retention scheduled", "next", next.Format(time.RFC3339), "zone", j.o.Zone.String(),
		"ping_retention", j.o.PingRetention.String(), "alert_retention", j.o.AlertRetention.String())
	for {
		j.m.setNext(next)
		timer := time.NewTimer(next.Sub(j.o.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		if _, err := j.RunOnce(ctx); err != nil && ctx.Err() == nil {
			j.o.Log.Error("retention run failed", "err", err)
		}
		// From the scheduled time, not the clock: a run that ends after midnight still leaves
		// tomorrow's slot, and a clock stopped by a test does not make the same slot fire twice.
		next = j.Next(next)
	}
}

// RunOnce runs the job now under the advisory lock, logs and counts what it removed, and returns
// it. When another instance holds the lock it does nothing and says so in Result.Skipped.
func (j *Job) RunOnce(ctx context.Context) (Result, error) {
	var r Result
	start := time.Now()
	now := j.o.Now()
	r.PingCutoff = now.Add(-j.o.PingRetention)
	r.AlertCutoff = now.Add(-j.o.AlertRetention)
	ran, err := j.o.Store.WithAdvisoryLock(ctx, LockKey, func(ctx context.Context) error {
		n, err := j.o.Store.EnsurePingPartitions(ctx, now.AddDate(0, 0, -1), 9)
		if err != nil {
			return err
		}
		r.PartitionsCreated = n
		p, err := j.o.Store.PurgePingResultsBefore(ctx, r.PingCutoff)
		r.PingPartitions, r.PingRows = p.Partitions, p.Rows
		j.m.pingDone(p) // what went before an error still went
		if err != nil {
			return err
		}
		r.AlertRows, err = j.o.Store.DeleteResolvedAlertsBefore(ctx, r.AlertCutoff)
		j.m.alertsDone(r.AlertRows)
		return err
	})
	r.Duration = time.Since(start)
	r.Skipped = !ran && err == nil
	switch {
	case err != nil:
		j.m.run("failed", r)
		return r, fmt.Errorf("cannot run retention: %w", err)
	case r.Skipped:
		j.m.run("skipped", r)
		j.o.Log.Info("retention skipped: another instance holds the lock")
		return r, nil
	}
	j.m.run("ok", r)
	j.o.Log.Info("retention done",
		"ping_cutoff", r.PingCutoff.UTC().Format(time.RFC3339), "ping_partitions_dropped", r.PingPartitions,
		"ping_rows_deleted", r.PingRows, "alert_cutoff", r.AlertCutoff.UTC().Format(time.RFC3339),
		"alert_rows_deleted", r.AlertRows, "partitions_created", r.PartitionsCreated,
		"duration", r.Duration.String())
	return r, nil
}

type jobMetrics struct {
	runs                map[string]*metrics.Counter
	pingRows, alertRows *metrics.Counter
	partitions          *metrics.Counter
	lastRun, lastDur    *metrics.Gauge
	pingCut, alertCut   *metrics.Gauge
	next                *metrics.Gauge
}

func newJobMetrics(set *metrics.Set) *jobMetrics {
	if set == nil {
		set = metrics.NewSet() // counted and never shown
	}
	m := &jobMetrics{
		runs:       map[string]*metrics.Counter{},
		pingRows:   set.NewCounter(`wardops_retention_deleted_rows_total{table="ping_results"}`),
		alertRows:  set.NewCounter(`wardops_retention_deleted_rows_total{table="alert_history"}`),
		partitions: set.NewCounter(`wardops_retention_dropped_partitions_total`),
		lastRun:    set.NewGauge(`wardops_retention_last_run_timestamp_seconds`, nil),
		lastDur:    set.NewGauge(`wardops_retention_last_duration_seconds`, nil),
		pingCut:    set.NewGauge(`wardops_retention_last_cutoff_timestamp_seconds{table="ping_results"}`, nil),
		alertCut:   set.NewGauge(`wardops_retention_last_cutoff_timestamp_seconds{table="alert_history"}`, nil),
		next:       set.NewGauge(`wardops_retention_next_run_timestamp_seconds`, nil),
	}
	for _, r := range []string{"ok", "failed", "skipped"} {
		m.runs[r] = set.NewCounter(`wardops_retention_runs_total{result="` + r + `"}`)
	}
	return m
}

func (m *jobMetrics) pingDone(p store.PingPurge) {
	m.pingRows.AddInt64(p.Rows)
	m.partitions.Add(len(p.Partitions))
}

func (m *jobMetrics) alertsDone(n int64) { m.alertRows.AddInt64(n) }

func (m *jobMetrics) run(result string, r Result) {
	m.runs[result].Inc()
	if result == "skipped" {
		return
	}
	m.lastRun.Set(float64(time.Now().Unix()))
	m.lastDur.Set(r.Duration.Seconds())
	m.pingCut.Set(float64(r.PingCutoff.Unix()))
	m.alertCut.Set(float64(r.AlertCutoff.Unix()))
}

func (m *jobMetrics) setNext(t time.Time) { m.next.Set(float64(t.Unix())) }
