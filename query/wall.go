package query

import (
	"io/fs"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wardops/wardops/internal/httpsec"
	"github.com/wardops/wardops/query/web"
)

// wall serves the NOC wall screen: the whole fleet on one screen, with ?kiosk=1 for a browser
// nobody touches. Like the NOC page it is embedded and loads nothing from elsewhere.
func (h webHandlers) wall(c *gin.Context) {
	b, err := fs.ReadFile(web.FS, "wall.html")
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	httpsec.SetDocumentHeaders(c.Writer.Header())
	c.Data(http.StatusOK, "text/html; charset=utf-8", b)
}
