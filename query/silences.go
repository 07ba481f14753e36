package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// silenceTTL is how long a silence mirroring an acknowledgement without expiry lasts. Alertmanager
// silences must end; the acknowledgement itself lasts until the alert clears or worsens, and a
// silence matching the alert's exact labels (severity included) stops matching when it worsens.
const silenceTTL = 12 * time.Hour

// silencer mirrors acknowledgements into each Alertmanager as silences (API v2). Each URL is
// called on its own: a silence is per Alertmanager cluster, and a cluster gossips it to its peers.
type silencer struct {
	urls   []string
	client *http.Client
	log    *slog.Logger
}

func newSilencer(urls []string, log *slog.Logger) *silencer {
	return &silencer{urls: urls, client: &http.Client{Timeout: 10 * time.Second}, log: log}
}

type silenceMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

type silenceBody struct {
	Matchers  []silenceMatcher `json:"matchers"`
	StartsAt  time.Time        `json:"startsAt"`
	EndsAt    time.Time        `json:"endsAt"`
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
}

// SilenceError is one Alertmanager refusing or failing a silence request.
type SilenceError struct {
	URL string
	Err error
}

func (e *SilenceError) Error() string { return fmt.Sprintf("alertmanager %s: %v", e.URL, e.Err) }
func (e *SilenceError) Unwrap() error { return e.Err }

// silence creates one silence per Alertmanager matching exactly labels, and returns the ones made
// ("URL ID") and the failures. With no labels there is nothing to scope a silence to.
func (s *silencer) silence(ctx context.Context, labels map[string]string, until time.Time, by, comment string) ([]string, []error) {
	if len(s.urls) == 0 || len(labels) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	body := silenceBody{StartsAt: time.Now().UTC(), EndsAt: until.UTC(), CreatedBy: by, Comment: comment}
	for _, n := range names {
		body.Matchers = append(body.Matchers, silenceMatcher{Name: n, Value: labels[n], IsEqual: true})
	}
	b, _ := json.Marshal(body) // strings and times only
	var made []string
	var errs []error
	for _, u := range s.urls {
		id, err := s.post(ctx, u, b)
		if err != nil {
			s.log.Warn("cannot mirror acknowledgement as a silence", "alertmanager", u, "err", err)
			errs = append(errs, &SilenceError{URL: u, Err: err})
			continue
		}
		made = append(made, u+" "+id)
	}
	return made, errs
}

func (s *silencer) post(ctx context.Context, base string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v2/silences", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /api/v2/silences: %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var out struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.SilenceID == "" {
		return "", fmt.Errorf("POST /api/v2/silences: no silenceID in %q", raw)
	}
	return out.SilenceID, nil
}

// expire ends the silences made by silence ("URL ID"); failures are logged and returned.
func (s *silencer) expire(ctx context.Context, silences []string) []error {
	var errs []error
	for _, sil := range silences {
		base, id, ok := strings.Cut(sil, " ")
		if !ok {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, strings.TrimRight(base, "/")+"/api/v2/silence/"+url.PathEscape(id), nil)
		if err == nil {
			var resp *http.Response
			resp, err = s.client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("DELETE /api/v2/silence/%s: %s", id, resp.Status)
				}
			}
		}
		if err != nil {
			s.log.Warn("cannot expire silence", "alertmanager", base, "err", err)
			errs = append(errs, &SilenceError{URL: base, Err: err})
		}
	}
	return errs
}
