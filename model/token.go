package model

import "time"

// Token is an API token as stored: only the SHA-256 hash of the secret is kept, never the secret.
type Token struct {
	ID         int64
	Name       string
	Scope      string // read, write or admin
	CreatedAt  time.Time
	LastUsedAt *time.Time
}
