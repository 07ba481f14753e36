// Package migrations embeds the numbered SQL files that build the wardops schema.
// Files are named NNNN_name.sql and applied in order, each in its own transaction, by store.Migrate.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
