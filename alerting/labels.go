package alerting

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	pmodel "github.com/prometheus/common/model"

	"github.com/wardops/wardops/model"
)

// deviceLabels are the labels every device series carries; a series' other labels (an interface's
// index and name, an expression's own) tell apart the alerts of one rule on one device.
var deviceLabels = map[string]bool{"__name__": true, "device_id": true, "device": true, "ip": true, "branch": true,
	"region": true, "vendor": true}

// alertLabels is the label set Alertmanager sees: rule and device identity, then the rule's own
// labels, then the series' extra labels. Device identity always wins, so a rule label cannot
// make one device's alert look like another's.
func alertLabels(r model.Rule, d *model.DeviceNode, extra map[string]string) map[string]string {
	l := map[string]string{}
	for k, v := range extra {
		if !deviceLabels[k] {
			l[k] = v
		}
	}
	for k, v := range r.Labels {
		l[k] = v
	}
	l["alertname"] = r.Name
	l["severity"] = r.Severity
	if d != nil {
		l["device"] = d.Name
		l["device_id"] = strconv.FormatInt(d.ID, 10)
		l["ip"] = d.IP
		l["branch"] = d.Branch
		l["region"] = d.Region
	}
	return l
}

// fingerprint is Alertmanager's own fingerprint of a label set, so alerts here and there match.
func fingerprint(l map[string]string) string {
	ls := make(pmodel.LabelSet, len(l))
	for k, v := range l {
		ls[pmodel.LabelName(k)] = pmodel.LabelValue(v)
	}
	return ls.Fingerprint().String()
}

// instanceOf is the series' extra labels in a stable text form.
func instanceOf(m map[string]string) string {
	var keys []string
	for k := range m {
		if !deviceLabels[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
