package query

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/wardops/wardops/model"
)

// Token scopes: admin includes write, write includes read.
const (
	scopeRead  = "read"
	scopeWrite = "write"
	scopeAdmin = "admin"
)

var scopeRank = map[string]int{scopeRead: 1, scopeWrite: 2, scopeAdmin: 3}

// ValidScope says whether s is a scope a token can have.
func ValidScope(s string) bool { return scopeRank[s] > 0 }

// NewToken returns a fresh random token secret: 32 bytes from crypto/rand, URL-safe.
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("cannot generate token: %w", err)
	}
	return "wdp_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashToken is how a token is stored and looked up: its SHA-256. Tokens are 256 random bits, so
// a plain hash (no salt, no KDF) is enough and allows an indexed lookup.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// tokenCache remembers valid tokens for tokenTTL so that reads with RequireReadToken do not cost a
// PostgreSQL round trip each; a token revoked with `wardops token revoke` stops working within
// tokenTTL (one second), the bound the README states.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]tokenEntry
}

type tokenEntry struct {
	tok   model.Token
	until time.Time
}

const (
	tokenTTL       = time.Second
	tokenCacheSize = 1024
)

// authenticator checks Bearer tokens against the store, through a short-lived cache.
type authenticator struct {
	responder
	st          TokenStore
	requireRead bool
	tokens      tokenCache
}

func newAuthenticator(r responder, st TokenStore, requireRead bool) *authenticator {
	return &authenticator{responder: r, st: st, requireRead: requireRead, tokens: tokenCache{entries: map[string]tokenEntry{}}}
}

// cached returns the token stored under key if the cache holds it and it is not older than tokenTTL.
func (tc *tokenCache) cached(key string, now time.Time) (model.Token, bool) {
	tc.mu.Lock()
	e, ok := tc.entries[key]
	tc.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.tok, true
	}
	return model.Token{}, false
}

func (a *authenticator) lookup(ctx context.Context, secret string) (model.Token, error) {
	key := string(HashToken(secret))
	now := time.Now()
	if t, ok := a.tokens.cached(key, now); ok {
		return t, nil
	}
	t, err := a.st.UseToken(ctx, []byte(key))
	if err != nil {
		return model.Token{}, err
	}
	a.tokens.mu.Lock()
	if len(a.tokens.entries) >= tokenCacheSize {
		clear(a.tokens.entries)
	}
	a.tokens.entries[key] = tokenEntry{tok: t, until: now.Add(tokenTTL)}
	a.tokens.mu.Unlock()
	return t, nil
}

// ctxScope is the gin context key holding the scope of the request's token ("" without one).
const ctxScope = "wardops.scope"

// hasScope says whether the request carried a token of at least scope need.
func hasScope(c *gin.Context, need string) bool {
	return scopeRank[c.GetString(ctxScope)] >= scopeRank[need]
}

// bearer returns the token of an Authorization header, or false when it carries none.
func bearer(header string) (string, bool) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	secret = strings.TrimSpace(secret)
	return secret, ok && secret != ""
}

// allowsCached says whether r may use a route of scope need, decided without a backend: the
// scope asks for no token, or r carries one of that scope which the token cache holds. False
// means only that authorize has to decide; it is never a refusal.
func (a *authenticator) allowsCached(r *http.Request, need string, now time.Time) bool {
	if need == scopePublic || need == scopeRead && !a.requireRead {
		return true
	}
	secret, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return false
	}
	t, ok := a.tokens.cached(string(HashToken(secret)), now)
	return ok && scopeRank[t.Scope] >= scopeRank[need]
}

// authorize asks for a Bearer token of at least scope need; reads go through without one unless
// RequireReadToken is set.
func (a *authenticator) authorize(c *gin.Context, need string) {
	if need == scopeRead && !a.requireRead {
		c.Next()
		return
	}
	secret, ok := bearer(c.GetHeader("Authorization"))
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="wardops"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, &apiError{Param: "Authorization", Message: "Authorization: Bearer token required"})
		return
	}
	t, err := a.lookup(c.Request.Context(), secret)
	if errors.Is(err, model.ErrNotFound) {
		c.Header("WWW-Authenticate", `Bearer realm="wardops", error="invalid_token"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, &apiError{Param: "Authorization", Message: "invalid or revoked token"})
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	if scopeRank[t.Scope] < scopeRank[need] {
		// The token's name stays out of the answer: it tells a holder of a stolen token whose
		// it is. The log has it.
		a.log.Info("token scope too low", "token", t.Name, "scope", t.Scope, "need", need, "route", c.FullPath())
		c.AbortWithStatusJSON(http.StatusForbidden, &apiError{Param: "Authorization",
			Message: fmt.Sprintf("this token's scope is too low; %s needed", need)})
		return
	}
	c.Set(tokenKey, t)
	c.Set(ctxScope, t.Scope)
	c.Next()
}
