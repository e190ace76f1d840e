package middleware

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// MaxBody bounds the request body of every route but the upload.
func MaxBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}
