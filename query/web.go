package query

import (
	"io/fs"
	"net/http"
	"path"

	"github.com/gin-gonic/gin"

	"github.com/wardops/wardops/internal/httpsec"
	"github.com/wardops/wardops/query/web"
)

// webHandlers serve the NOC page and its static files.
type webHandlers struct{ responder }

// page serves the NOC page; everything it needs is embedded in the binary (no CDN: NOC machines
// often have no internet).
func (h webHandlers) page(c *gin.Context) {
	b, err := fs.ReadFile(web.FS, "index.html")
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	httpsec.SetDocumentHeaders(c.Writer.Header())
	c.Data(http.StatusOK, "text/html; charset=utf-8", b)
}

var staticTypes = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

func (h webHandlers) static(c *gin.Context) {
	name := path.Clean(c.Param("file"))[1:]
	ct, ok := staticTypes[path.Ext(name)]
	b, err := fs.ReadFile(web.FS, name)
	if !ok || err != nil {
		c.AbortWithStatusJSON(http.StatusNotFound, &apiError{Message: "no such file"})
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ct, b)
}
