// Package spec checks real traffic against api/openapi.yaml: installed as
// the transport of a black-box test package, it validates every request
// sent to a route of the document and every answer received, and reports
// what did not match when the package's tests end.
package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/tiktok-lite/server/api"
)

// Load parses and validates the document.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.YAML)
	if err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	return doc, nil
}

// Route finds the operation for method and path, a path without its
// trailing slash included: the server answers both forms, the document
// writes each route once, with the slash.
func Route(doc *openapi3.T, method, path string) (*routers.Route, bool) {
	item := doc.Paths.Find(path)
	if item == nil && !strings.HasSuffix(path, "/") {
		path += "/"
		item = doc.Paths.Find(path)
	}
	if item == nil {
		return nil, false
	}
	op := item.GetOperation(method)
	if op == nil {
		return nil, false
	}
	return &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}, true
}

// maxBody is the largest request body read again to validate it; larger
// ones (uploads, floods) are sent as they are and only their query and
// answer are checked.
const maxBody = 1 << 20

// Checker is an http.RoundTripper validating what passes through it.
type Checker struct {
	next http.RoundTripper
	doc  *openapi3.T

	mu       sync.Mutex
	checked  int
	problems []string
}

// Install puts a Checker in front of http.DefaultTransport, which every
// client without its own transport uses, and returns it.
func Install() (*Checker, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	c := &Checker{next: http.DefaultTransport, doc: doc}
	http.DefaultTransport = c
	return c, nil
}

// RoundTrip sends req and checks it and its answer when its path is a
// route of the document; anything else (media, the web client) passes.
func (c *Checker) RoundTrip(req *http.Request) (*http.Response, error) {
	route, ok := Route(c.doc, req.Method, req.URL.Path)
	if !ok {
		resp, err := c.next.RoundTrip(req)
		// An API path the document lacks must be one the server lacks too.
		if err == nil && strings.HasPrefix(req.URL.Path, "/douyin/") && resp.StatusCode != http.StatusNotFound {
			c.problem("%s %s: answered HTTP %d, but it is not a route of api/openapi.yaml", req.Method, req.URL.Path, resp.StatusCode)
		}
		return resp, err
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		MultiError:         true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts}
	var reqErr error
	if req.Body != nil && req.GetBody != nil && req.ContentLength > 0 && req.ContentLength <= maxBody {
		copyReq := req.Clone(req.Context())
		if copyReq.Body, reqErr = req.GetBody(); reqErr == nil {
			in.Request = copyReq
			reqErr = openapi3filter.ValidateRequest(context.Background(), in)
		}
	} else {
		opts.ExcludeRequestBody = true
		reqErr = openapi3filter.ValidateRequest(context.Background(), in)
		opts.ExcludeRequestBody = false
	}

	resp, err := c.next.RoundTrip(req)
	if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err == nil {
			c.problem("%s %s: answered %q, not JSON", req.Method, req.URL.Path, resp.Header.Get("Content-Type"))
		}
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		// The caller sees the same short body and deals with it.
		return resp, nil
	}
	c.mu.Lock()
	c.checked++
	c.mu.Unlock()

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.problem("%s %s: the answer does not match: %v\n    answer: %s", req.Method, req.URL.Path, summary(err), excerpt(body))
	}
	// A request the document refuses must be refused by the server too.
	var env struct {
		StatusCode *int `json:"status_code"`
	}
	if reqErr != nil && json.Unmarshal(body, &env) == nil && env.StatusCode != nil && *env.StatusCode == 0 {
		c.problem("%s %s: the server accepted a request the document refuses: %v\n    query: %s", req.Method, req.URL.Path, summary(reqErr), req.URL.RawQuery)
	}
	return resp, nil
}

func (c *Checker) problem(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 50 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	} else if len(c.problems) == 50 {
		c.problems = append(c.problems, "(more left out)")
	}
}

// Verdict is nil when every answer matched and, when the whole package
// ran (no -run or -list), at least one was checked.
func (c *Checker) Verdict() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) > 0 {
		return fmt.Errorf("api/openapi.yaml: %d answers checked, these did not match:\n  %s", c.checked, strings.Join(c.problems, "\n  "))
	}
	if c.checked == 0 && flagValue("test.run") == "" && flagValue("test.list") == "" {
		return errors.New("api/openapi.yaml: no answer was checked; is the checker installed where the tests send their requests?")
	}
	return nil
}

// Checked is how many answers were validated.
func (c *Checker) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func summary(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func excerpt(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
