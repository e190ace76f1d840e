package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// runCeiling serves the captured answers from memory with a bare gin
// engine: the same routes, the same bodies byte for byte, and no work.
// What it reaches on this machine is what the HTTP stack allows, and the
// real server's figures are read as a share of it.
func runCeiling(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	capturePath := fs.String("capture", "", "capture.json written by prepare (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*capturePath)
	if err != nil {
		return err
	}
	var captured map[string]string
	if err := json.Unmarshal(raw, &captured); err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	bodies := make(map[string][]byte, len(captured))
	for k, v := range captured {
		bodies[k] = []byte(v)
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	const contentType = "application/json; charset=utf-8"
	replay := func(c *gin.Context) {
		body, ok := bodies[captureKey(c.Request.RequestURI)]
		if !ok {
			c.Status(http.StatusNotFound)
			return
		}
		c.Data(http.StatusOK, contentType, body)
	}
	paths := map[string]bool{}
	for k, body := range bodies {
		if path, ok := strings.CutPrefix(k, "POST "); ok {
			r.POST(path, func(c *gin.Context) { c.Data(http.StatusOK, contentType, body) })
			continue
		}
		path, _, _ := strings.Cut(k, "?")
		if !paths[path] {
			paths[path] = true
			r.GET(path, replay)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	fmt.Fprintf(stdout, "ceiling listening on %s (%d bodies)\n", ln.Addr(), len(bodies))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func runFreePort(stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, port)
	return nil
}
