package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/wardops/wardops/config"
)

// runHealthcheck is the container healthcheck: GET URL and succeed on a 2xx answer, so the
// image needs no curl or wget.
func runHealthcheck(ctx context.Context, _ *config.Config, args []string, _ *slog.Logger) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: usage: wardops healthcheck URL", config.ErrUsage)
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: healthcheck URL %q must be http(s)://host[:port]/path", config.ErrUsage, args[0])
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", u.Redacted(), err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", u.Redacted(), resp.Status)
	}
	return nil
}
