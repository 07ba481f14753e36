package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/wardops/wardops/config"
	"github.com/wardops/wardops/internal/httpsec"
	"github.com/wardops/wardops/internal/seal"
	"github.com/wardops/wardops/model"
	"github.com/wardops/wardops/store"
)

// secretKeys loads the keyring sealing SNMP secrets from WARDOPS_SECRET_KEY or
// WARDOPS_SECRET_KEY_FILE; nil without either: the store then refuses to store a secret.
func secretKeys(cfg *config.Config) (*seal.Keyring, error) {
	switch {
	case cfg.SecretKeyFile != "":
		k, err := seal.ReadFile(cfg.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: WARDOPS_SECRET_KEY_FILE: %w", config.ErrUsage, err)
		}
		return k, nil
	case cfg.SecretKey != "":
		k, err := seal.Parse(string(cfg.SecretKey))
		if err != nil {
			return nil, fmt.Errorf("%w: WARDOPS_SECRET_KEY: %w", config.ErrUsage, err)
		}
		return k, nil
	}
	return nil, nil
}

// devSecretKeyFile makes sure `wardops dev` has a key with zero setup: one generated under dir on
// the first run and reused after, so the demo seals its secrets as production does.
func devSecretKeyFile(dir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dir, "secret.key")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("cannot check %s: %w", path, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cannot create %s: %w", dir, err)
	}
	entry, err := seal.NewEntry("dev1")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte("# wardops dev: generated secret key; the first entry seals\n"+entry+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("cannot write %s: %w", path, err)
	}
	log.Info("generated a secret key for the demo's SNMP secrets", "file", path)
	return path, nil
}

// sealOrWarn seals plaintext secrets left from before encryption at rest when a key is
// configured, and says loudly that they are there when none is.
func sealOrWarn(ctx context.Context, st *store.Store, keys *seal.Keyring, log *slog.Logger) error {
	if keys != nil {
		n, err := st.SealPlaintext(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("sealed plaintext SNMP secrets", "rows", n, "key", keys.Current())
		}
		return nil
	}
	n, err := st.PlaintextSecrets(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Warn("SNMP secrets are stored in PLAINTEXT and no secret key is configured: set WARDOPS_SECRET_KEY_FILE and run wardops migrate to seal them", "rows", n)
	} else {
		log.Warn("no secret key configured (WARDOPS_SECRET_KEY_FILE): devices and credentials carrying an SNMP secret will be refused")
	}
	return nil
}

// rotateKey is `wardops maintenance rotate-key`: every secret not sealed under the key file's
// first key is re-sealed under it, in one transaction.
func rotateKey(ctx context.Context, cfg *config.Config, log *slog.Logger, out io.Writer) error {
	st, keys, err := openStoreKeys(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if keys == nil {
		return fmt.Errorf("%w: rotate-key needs WARDOPS_SECRET_KEY_FILE (or WARDOPS_SECRET_KEY) with the new key first", config.ErrUsage)
	}
	n, err := st.RotateKey(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "re-sealed %d row(s) under key %q; keys after the first can now leave the key file\n", n, keys.Current())
	return nil
}

// serverTLS loads WARDOPS_TLS_CERT_FILE and WARDOPS_TLS_KEY_FILE (nil config without them) and
// re-reads them on SIGHUP until ctx ends, so a renewed certificate needs no restart.
func serverTLS(ctx context.Context, cfg *config.Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.TLSCertFile == "" {
		return nil, nil
	}
	cert, err := httpsec.LoadCertificate(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return nil, err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	go func() {
		defer signal.Stop(sig)
		cert.ReloadOn(ctx, sig, log)
	}()
	return cert.Config(), nil
}

func targetPolicy(cfg *config.Config) model.TargetPolicy {
	return model.TargetPolicy{Allow: cfg.ProbeAllow, Deny: cfg.ProbeDeny}
}
