package alerting

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metricsql"

	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// ValidateRule checks a rule before the API writes it: a known kind, a severity, a threshold
// where the kind needs one, a recovery threshold on the right side of it, and for an expression
// rule a MetricsQL expression that parses.
func ValidateRule(r model.Rule) error {
	switch r.Kind {
	case model.RuleHighRTT, model.RulePacketLoss, model.RuleIfOperDown, model.RuleIfErrors, model.RuleRebooted,
		model.RuleSNMPUnreachable, model.RuleExpr:
		if r.Threshold == nil {
			return fmt.Errorf("rule %q: a %s rule needs a threshold", r.Name, r.Kind)
		}
	case model.RuleDeviceDown, model.RuleFlapping, model.RuleBlind, model.RuleManual:
	default:
		return fmt.Errorf("rule %q: unknown kind %q", r.Name, r.Kind)
	}
	switch r.Severity {
	case "info", "warning", "critical":
	default:
		return fmt.Errorf("rule %q: severity %q must be info, warning or critical", r.Name, r.Severity)
	}
	if r.Comparison != "" && r.Comparison != ">" && r.Comparison != "<" {
		return fmt.Errorf("rule %q: comparison %q must be > or <", r.Name, r.Comparison)
	}
	if r.Threshold != nil && r.Recovery != nil {
		if (r.Comparison == "<" && *r.Recovery < *r.Threshold) || (r.Comparison != "<" && *r.Recovery > *r.Threshold) {
			return fmt.Errorf("rule %q: the recovery threshold must be on the healthy side of the threshold", r.Name)
		}
	}
	if r.Kind == model.RuleExpr {
		if _, err := metricsql.Parse(r.Expr); err != nil {
			return fmt.Errorf("rule %q: expression: %w", r.Name, err)
		}
	}
	return nil
}

// thresholdRule reports whether a rule kind compares a value with a threshold: judged in memory
// (local.go) or, for expressions, by VictoriaMetrics.
func thresholdRule(kind string) bool {
	switch kind {
	case model.RuleHighRTT, model.RulePacketLoss, model.RuleIfOperDown, model.RuleIfErrors, model.RuleRebooted,
		model.RuleSNMPUnreachable, model.RuleExpr:
		return true
	}
	return false
}

func promDuration(d time.Duration, def time.Duration) string {
	if d <= 0 {
		d = def
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// RuleExpr is the MetricsQL expression whose value a rule compares with its threshold: what an
// expression rule sends to VictoriaMetrics, and for the default kinds the same value over
// VictoriaMetrics' copy of the data they are judged on in memory (judgeLocal). The vmalert rules
// file is built from these expressions.
func RuleExpr(r model.Rule) (string, error) {
	w := promDuration(r.Window, 5*time.Minute)
	switch r.Kind {
	case model.RuleHighRTT:
		return "avg_over_time(wardops_ping_rtt_seconds[" + w + "]) * 1000", nil
	case model.RulePacketLoss:
		return "avg_over_time(wardops_ping_loss_ratio[" + w + "]) * 100", nil
	case model.RuleIfOperDown:
		// 1 on an admin-up interface that is oper-down, 0 on every other polled interface.
		return "(wardops_snmp_ifOperStatus == bool 2) * on(device_id, index) (wardops_snmp_ifAdminStatus == bool 1)", nil
	case model.RuleIfErrors:
		return "rate(wardops_snmp_ifInErrors[" + w + "]) + rate(wardops_snmp_ifOutErrors[" + w + "])", nil
	case model.RuleRebooted:
		return "max_over_time(wardops_snmp_reboot_detected[" + promDuration(r.Window, 15*time.Minute) + "])", nil
	case model.RuleSNMPUnreachable:
		return "max_over_time(wardops_snmp_up[" + promDuration(r.Window, 3*time.Minute) + "])", nil
	case model.RuleExpr:
		e, err := metricsql.Parse(r.Expr)
		if err != nil {
			return "", fmt.Errorf("rule %q: %w", r.Name, err)
		}
		return string(e.AppendString(nil)), nil
	}
	return "", fmt.Errorf("rule %q: kind %s is not a VictoriaMetrics rule", r.Name, r.Kind)
}

// ruleQueries are the two queries of a rule. offenders is sent every evaluation: the threshold
// filter runs in VictoriaMetrics, so only the series not recovered (above the recovery threshold,
// or below it for "<") come back, however large the fleet. count, how many series the expression
// has at all, tells "nothing breaches" from "no data"; it costs as much as the expression itself,
// so it is sent only when its answer matters (see ruleEval.needCount).
func ruleQueries(r model.Rule) (offenders, count string, err error) {
	e, err := RuleExpr(r)
	if err != nil {
		return "", "", err
	}
	t := r.Threshold
	if r.Recovery != nil {
		t = r.Recovery
	}
	op := ">"
	if r.Comparison == "<" {
		op = "<"
	}
	lim := strconv.FormatFloat(*t, 'g', -1, 64)
	return fmt.Sprintf("(%s) %s %s", e, op, lim), fmt.Sprintf("count((%s))", e), nil
}

// liveFor is how long a rule's "VictoriaMetrics has series for it" answer is trusted when no
// decision rests on it: a rule whose data stops is shown as "no data" within liveFor plus one
// evaluation interval. A resolution never rests on a cached answer: when an open alert or a
// pending timer would end, the count is asked that same evaluation.
const liveFor = 5 * time.Minute

// ruleEval evaluates the threshold rules: the default ones in memory (local.go), expression
// rules against VictoriaMetrics, one query per rule per evaluation whatever the fleet size. It is
// owned by one goroutine.
type ruleEval struct {
	e       *engine
	vm      *vmClient
	snmp    snmpView
	open    map[alertKey]*model.AlertRecord
	pending map[alertKey]*model.Pending
	// liveAt is when each rule's count last said VictoriaMetrics has its series.
	liveAt map[int64]time.Time
}

func newRuleEval(e *engine) *ruleEval {
	return &ruleEval{e: e, vm: &vmClient{base: e.o.VMURL, hc: httpClient()}, open: map[alertKey]*model.AlertRecord{},
		snmp: snmpView{devs: map[int64]*snmpDevice{}}, pending: map[alertKey]*model.Pending{}, liveAt: map[int64]time.Time{}}
}

// prepare brings the in-memory data of the enabled local rules up to now: the SNMP states
// written since the last cycle, and the probe window filled from ping_results the first time (or
// when a window grew). One PostgreSQL query each, and none for a kind no rule needs.
func (re *ruleEval) prepare(ctx context.Context, inv *inventory, now time.Time) error {
	pingSpan, errSpan := spans(inv)
	snmp := false
	for _, r := range inv.rules {
		if r.Enabled && localRule(r.Kind) && r.Kind != model.RuleHighRTT && r.Kind != model.RulePacketLoss {
			snmp = true
		}
	}
	if snmp {
		_, err := re.snmp.read(ctx, re.e.st, errSpan, now)
		re.e.m.pgQueries.Inc()
		if err != nil {
			return err
		}
	}
	if pingSpan == 0 {
		// No ping rule: hold no probes (down detection keeps adding between cycles).
		re.e.probes.prune(now)
		re.e.probes.filled(time.Time{})
		return nil
	}
	from := now.Add(-pingSpan)
	re.e.probes.prune(from)
	if re.e.probes.complete(from) {
		return nil
	}
	if _, err := re.e.readProbes(ctx, from); err != nil {
		return err
	}
	re.e.probes.filled(from)
	return nil
}

func (re *ruleEval) cycle(ctx context.Context, now time.Time) error {
	inv := re.e.inv.Load()
	defer re.count(inv)
	ch := &store.CycleChange{}
	mt := newMaintenance(inv, now)
	live := map[int64]model.Rule{}
	for _, r := range inv.rules {
		if r.Enabled && thresholdRule(r.Kind) {
			live[r.ID] = r
		}
	}
	if err := re.prepare(ctx, inv, now); err != nil {
		return err
	}
	// The VictoriaMetrics queries run side by side (it answers each on its own cores); the
	// answers are applied one rule at a time. Without a VictoriaMetrics URL expression rules
	// are not evaluated.
	var todo []model.Rule
	for _, r := range inv.rules {
		if r.Enabled && r.Threshold != nil && (localRule(r.Kind) || (r.Kind == model.RuleExpr && re.e.o.VMURL != "")) {
			todo = append(todo, r)
		}
	}
	// The open and pending keys of each rule, taken here: the goroutines below only read them.
	known := make([]map[alertKey]bool, len(todo))
	idx := make(map[int64]int, len(todo))
	for i, r := range todo {
		idx[r.ID] = i
	}
	add := func(k alertKey) {
		if i, ok := idx[k.rule]; ok {
			if known[i] == nil {
				known[i] = map[alertKey]bool{}
			}
			known[i][k] = true
		}
	}
	for k := range re.open {
		add(k)
	}
	for k := range re.pending {
		add(k)
	}
	answers := make([]answer, len(todo))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, r := range todo {
		if localRule(r.Kind) {
			answers[i] = re.judgeLocal(r, inv, now)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			answers[i] = re.fetch(ctx, r, known[i], now)
		}()
	}
	wg.Wait()
	var errs []error
	for i, r := range todo {
		ev := store.RuleEvaluation{RuleID: r.ID, At: now, State: "ok"}
		if err := re.rule(ch, inv, mt, r, answers[i], now); err != nil {
			ev.State, ev.Error = "error", err.Error()
			if errors.Is(err, errNoData) {
				ev.State, ev.Error = "no_data", ""
			} else {
				errs = append(errs, err)
			}
		}
		ch.Evaluations = append(ch.Evaluations, ev)
	}
	// A rule deleted or disabled takes its alerts and timers with it.
	for k, a := range re.open {
		if _, ok := live[k.rule]; !ok {
			re.e.resolve(ch, a, now, now)
			delete(re.open, k)
		}
	}
	for k, p := range re.pending {
		if _, ok := live[k.rule]; !ok {
			ch.PendingDelete = append(ch.PendingDelete, *p)
			delete(re.pending, k)
		}
	}
	if !ch.Empty() {
		if err := re.e.commit(ctx, ch); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		re.e.m.evalErrors.WithLabelValues("rules").Add(float64(len(errs)))
		re.e.o.Log.Warn("alert rules failed", "rules", len(errs), "err", errors.Join(errs...))
	}
	return nil
}

// count publishes the open threshold alerts by state, and the pending timers.
func (re *ruleEval) count(inv *inventory) {
	c := make(map[stateRule]int, 8)
	for _, a := range re.open {
		c[stateRule{stateOf(a), ruleName(inv, a)}]++
	}
	for k := range re.pending {
		if r, ok := inv.byID[k.rule]; ok {
			c[stateRule{"pending", r.Name}]++
		}
	}
	re.e.alertCounts().publish(inv, loopRules, c)
}

type answer struct {
	res []series
	// answered: the rule has data (a value in memory; from VictoriaMetrics, offenders came
	// back, the count said so, or it said so less than liveFor ago).
	answered bool
	fresh    bool // answered was learnt this evaluation, not taken from liveAt
	// judged, when set, tells the keys that have a value this evaluation: the others' alerts
	// and timers stay as they are. nil: every key of an answered rule is judged.
	judged func(alertKey) bool
	err    error
}

// fetch asks for a rule's offenders and, when needCount says so, for its count.
func (re *ruleEval) fetch(ctx context.Context, r model.Rule, known map[alertKey]bool, now time.Time) answer {
	off, cnt, err := ruleQueries(r)
	if err != nil {
		return answer{err: err}
	}
	qctx, cancel := context.WithTimeout(ctx, re.e.o.Timeout)
	defer cancel()
	res, err := re.vm.query(qctx, off, now)
	re.e.m.vmQueries.WithLabelValues(resultOf(err, len(res))).Inc()
	if err != nil {
		return answer{err: err}
	}
	ans := answer{res: res, answered: len(res) > 0, fresh: len(res) > 0}
	if !re.needCount(r, res, known, now) {
		ans.answered = true
		return ans
	}
	c, err := re.vm.query(qctx, cnt, now)
	re.e.m.vmQueries.WithLabelValues(resultOf(err, len(c))).Inc()
	if err != nil {
		return answer{err: err}
	}
	ans.answered, ans.fresh = len(c) > 0 && c[0].value > 0, true
	return ans
}

func resultOf(err error, n int) string {
	switch {
	case err != nil:
		return "error"
	case n == 0:
		return "no_data"
	}
	return "ok"
}

// needCount reports whether the offenders alone cannot settle the rule: an open alert or a
// pending timer of it is missing from them (it would end, which only data can justify), or
// nothing came back and whether the rule has data at all was last known more than liveFor ago.
// known holds the rule's open and pending keys, taken before the queries started.
func (re *ruleEval) needCount(r model.Rule, res []series, known map[alertKey]bool, now time.Time) bool {
	if len(known) > 0 {
		seen := make(map[alertKey]bool, len(res))
		for _, s := range res {
			if id, err := strconv.ParseInt(s.labels["device_id"], 10, 64); err == nil {
				seen[alertKey{r.ID, id, instanceOf(s.labels)}] = true
			}
		}
		for k := range known {
			if !seen[k] {
				return true
			}
		}
	}
	if len(res) > 0 {
		return false
	}
	at, ok := re.liveAt[r.ID]
	return !ok || now.Sub(at) >= liveFor
}

func (re *ruleEval) rule(ch *store.CycleChange, inv *inventory, mt *maintenance, r model.Rule, ans answer, now time.Time) error {
	if ans.err != nil {
		return fmt.Errorf("rule %s: %w", r.Name, ans.err)
	}
	res := ans.res
	seen := make(map[alertKey]float64, len(res))
	extras := make(map[alertKey]map[string]string, len(res))
	for _, s := range res {
		id, err := strconv.ParseInt(s.labels["device_id"], 10, 64)
		if err != nil {
			continue
		}
		dev := inv.devices[id]
		if dev == nil || !dev.Enabled || !inScope(r, dev) {
			continue
		}
		k := alertKey{r.ID, id, instanceOf(s.labels)}
		seen[k] = s.value
		extras[k] = s.labels
	}
	if !ans.answered {
		// Nothing has data for this rule: open alerts and timers stay as they are.
		delete(re.liveAt, r.ID)
		return fmt.Errorf("rule %s: %w", r.Name, errNoData)
	}
	if ans.fresh {
		re.liveAt[r.ID] = now
	}
	for k, v := range seen {
		dev := inv.devices[k.device]
		a := re.open[k]
		if a != nil {
			if r.Recovered(v) {
				continue // handled with the absent ones below
			}
			vv := v
			a.Value = &vv
			re.hold(ch, a, r, dev, mt, now)
			if re.e.relabel(ch, a, r, dev, now) {
				ch.Updated = append(ch.Updated, a)
			}
			continue
		}
		if !r.Breaches(v) {
			if p := re.pending[k]; p != nil {
				ch.PendingDelete = append(ch.PendingDelete, *p)
				delete(re.pending, k)
			}
			continue
		}
		vv := v
		p := re.pending[k]
		if p == nil {
			p = &model.Pending{RuleID: r.ID, DeviceID: k.device, Instance: k.instance, ActiveSince: now, Value: &vv}
			re.pending[k] = p
		}
		p.Value = &vv
		if now.Sub(p.ActiveSince) < r.For {
			ch.PendingSet = append(ch.PendingSet, *p)
			continue
		}
		ch.PendingDelete = append(ch.PendingDelete, *p)
		delete(re.pending, k)
		a = re.e.newAlert(r, dev, k.instance, &vv, p.ActiveSince, now, extras[k])
		sum := ruleSummary(r, dev, extras[k], v)
		a.Summary, a.Annotations = sum, re.e.annotations(dev, sum, r.Description)
		re.open[k] = a
		ch.NewAlerts = append(ch.NewAlerts, a)
		re.hold(ch, a, r, dev, mt, now)
	}
	// The series of an open alert is back past the recovery threshold (the query only returns
	// series that are not): resolve it.
	for k, a := range re.open {
		if k.rule != r.ID || (ans.judged != nil && !ans.judged(k)) {
			continue
		}
		if v, ok := seen[k]; ok && !r.Recovered(v) {
			continue
		}
		re.e.resolve(ch, a, now, now)
		delete(re.open, k)
	}
	for k, p := range re.pending {
		if ans.judged != nil && !ans.judged(k) {
			continue
		}
		if _, ok := seen[k]; !ok && k.rule == r.ID {
			ch.PendingDelete = append(ch.PendingDelete, *p)
			delete(re.pending, k)
		}
	}
	return nil
}

// hold decides whether an open threshold alert is notified: not while its device is in
// maintenance or already down (its DeviceDown, or its root cause's, says it all).
func (re *ruleEval) hold(ch *store.CycleChange, a *model.AlertRecord, r model.Rule, dev *model.DeviceNode, mt *maintenance, now time.Time) {
	if a.NotifiedAt != nil {
		return
	}
	hold, supp := model.HoldNone, int64(0)
	if root, down := re.e.rootOf(dev.ID); down {
		hold, supp = model.HoldSuppressed, root
	} else if mt.covers(dev.ID) {
		hold = model.HoldMaintenance
	}
	a.HoldReason, a.SuppressedBy = hold, supp
	if hold == model.HoldNone {
		re.e.notify(ch, a, now)
	}
	ch.Updated = append(ch.Updated, a)
}

func ruleSummary(r model.Rule, dev *model.DeviceNode, labels map[string]string, v float64) string {
	what := dev.Name
	if n := labels["ifName"]; n != "" {
		what += " " + n
	} else if i := labels["index"]; i != "" {
		what += " interface " + i
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s on %s (%s): %.4g", r.Name, what, dev.IP, v)
	if r.Threshold != nil {
		fmt.Fprintf(&b, " %s %.4g", r.Comparison, *r.Threshold)
	}
	return b.String()
}
