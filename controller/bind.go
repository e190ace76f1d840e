// Package controller is the HTTP edge: it binds and checks parameters,
// calls a service with the request's context and writes one envelope.
package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"
	"github.com/go-playground/validator/v10"
	"go.uber.org/zap"

	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/pkg/response"
)

// bind reads the request's parameters, whichever of the query string, the
// urlencoded form or the multipart form carries them (clients mix them),
// into req, and turns every failure into an invalid-parameter error that
// names the field.
func bind(c *gin.Context, req any) error {
	err := c.ShouldBindWith(req, binding.Form)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if errors.As(err, &verrs) && len(verrs) > 0 {
		return errcode.InvalidParam.WithMsg(describe(verrs[0], paramName(req, verrs[0].StructField())))
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errcode.TooLarge.WithMsg("the request is too large")
	}
	var num *strconv.NumError
	if errors.As(err, &num) {
		return errcode.InvalidParam.WithMsg(fmt.Sprintf("%q is not a valid number", truncate(num.Num, 32)))
	}
	return errcode.InvalidParam.WithMsg("the request parameters could not be read")
}

// paramName is the client's name of a request field: its form tag.
func paramName(req any, field string) string {
	t := reflect.TypeOf(req)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if f, ok := t.FieldByName(field); ok {
		if name := f.Tag.Get("form"); name != "" {
			return name
		}
	}
	return field
}

func describe(fe validator.FieldError, name string) string {
	switch fe.Tag() {
	case "required":
		return name + " is required"
	case "oneof":
		return fmt.Sprintf("%s must be one of %s", name, strings.ReplaceAll(fe.Param(), " ", ", "))
	case "gt", "gte", "min":
		return fmt.Sprintf("%s must be a positive number", name)
	default:
		return name + " is not valid"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// handle is the shape of every handler: bind the parameters into a Req,
// run act with the request's context and viewer when they are valid, and
// write resp with whatever error came of either.
func handle[Req any](c *gin.Context, log *zap.Logger, resp response.Body, act func(ctx context.Context, viewer int64, req *Req) error) {
	var req Req
	err := bind(c, &req)
	if err == nil {
		err = act(c.Request.Context(), middleware.ViewerID(c), &req)
	}
	response.Write(c, log, resp, err)
}
