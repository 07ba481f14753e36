// Package web holds the NOC page's static files, embedded into the binary.
package web

import "embed"

// FS is the NOC page (index.html, app.js, style.css) and the wall screen (wall.html, wall.js,
// wall.css).
//
//go:embed index.html app.js style.css wall.html wall.js wall.css
var FS embed.FS
