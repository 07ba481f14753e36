// Package web holds the NOC page's static files, embedded into the binary.
package web

import "embed"

// FS is index.html, app.js and style.css.
//
//go:embed index.html app.js style.css
var FS embed.FS
