// Package middleware holds the gin middleware: request id, access log,
// recovery, metrics, authentication and rate limits.
package middleware

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/gin-gonic/gin"

	"github.com/tiktok-lite/server/pkg/response"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-ID"

// RequestID takes the caller's request id when it looks sane (nginx sets
// one) or makes a new one, and echoes it in the response.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !saneID(id) {
			b := make([]byte, 8)
			if _, err := rand.Read(b); err == nil {
				id = hex.EncodeToString(b)
			}
		}
		c.Set(response.RequestIDKey, id)
		c.Header(RequestIDHeader, id)
		c.Next()
	}
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
