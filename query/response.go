package query

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// rendered is a response body made once per snapshot, with its gzip encoding made on first demand.
// Browsers on a NOC wall ask for the same few bodies every second; serving them is then a copy of
// bytes, and compressed a single write(2) instead of several (the measured cost of a 12 KB body on
// loopback was the syscalls, not our code).
type rendered struct {
	raw    []byte
	rawLen []string // Content-Length header values, made once instead of per request
	once   sync.Once
	gz     []byte
	gzLen  []string
}

func newRendered(b []byte) *rendered {
	return &rendered{raw: b, rawLen: []string{strconv.Itoa(len(b))}}
}

var (
	jsonType     = []string{"application/json; charset=utf-8"}
	varyEncoding = []string{"Accept-Encoding"}
	gzipEncoding = []string{"gzip"}
	noStore      = []string{"no-store"}
)

// minGzip: smaller bodies fit one write already and gain nothing from compression.
const minGzip = 1024

func (r *rendered) gzipped() []byte {
	r.once.Do(func() {
		var buf bytes.Buffer
		buf.Grow(len(r.raw) / 4)
		// The default level: compressed once per snapshot and served many times, the smaller body
		// is worth more than the compression time (it also fits one write(2) more often).
		zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		if err == nil {
			_, err = zw.Write(r.raw)
		}
		if err == nil {
			err = zw.Close()
		}
		if err == nil {
			r.gz, r.gzLen = buf.Bytes(), []string{strconv.Itoa(buf.Len())}
		}
		// On an error (none is possible writing to memory) the body is served uncompressed.
	})
	return r.gz
}

// serveSnapshot writes a body rendered from snap, as writeSnapshot does.
func serveSnapshot(c *gin.Context, snap *snapshot, r *rendered) {
	writeSnapshot(c.Writer, c.Request, snap, r, time.Now())
}

// writeSnapshot writes a body rendered from snap with status 200: never stored by a cache in
// between (it is only valid for ttl), with its age at now, gzip-encoded when the client accepts it,
// and always with a Content-Length so net/http does not chunk it.
func writeSnapshot(w http.ResponseWriter, req *http.Request, snap *snapshot, r *rendered, now time.Time) {
	// Canonical keys and shared value slices: setting a header this way allocates nothing.
	h := w.Header()
	h["Cache-Control"] = noStore
	h["Age"] = ageHeader(snap, now)
	h["Content-Type"] = jsonType
	h["Vary"] = varyEncoding
	body, length := r.raw, r.rawLen
	if len(body) >= minGzip && acceptsGzip(req.Header.Get("Accept-Encoding")) {
		if gz := r.gzipped(); gz != nil {
			body, length = gz, r.gzLen
			h["Content-Encoding"] = gzipEncoding
		}
	}
	h["Content-Length"] = length
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // a client gone mid-write is not our error to report
}

// acceptsGzip reads an Accept-Encoding header (RFC 9110 12.5.3): gzip, or *, with a q-value that is
// not zero.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.TrimSpace(name)
		if !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		q := strings.TrimSpace(params)
		if v, ok := strings.CutPrefix(strings.ReplaceAll(q, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f == 0 {
				return false
			}
		}
		return true
	}
	return false
}
