package middleware

import (
	"context"
	"time"

	"github.com/gin-gonic/gin"
)

// Deadline gives every request's context a deadline, so that a database or
// cache that stops answering fails the request within d instead of holding
// it (and its connection) indefinitely.
func Deadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
