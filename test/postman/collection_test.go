// Package postman checks the Postman collection as a document for people:
// every request described and with a saved answer that matches the spec,
// and the files and environment its description names really there.
package postman

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/tiktok-lite/server/test/spec"
)

type item struct {
	Name    string `json:"name"`
	Items   []item `json:"item"`
	Request *struct {
		Method      string `json:"method"`
		Description string `json:"description"`
		URL         struct {
			Raw  string   `json:"raw"`
			Path []string `json:"path"`
		} `json:"url"`
	} `json:"request"`
	Response []struct {
		Code   int    `json:"code"`
		Body   string `json:"body"`
		Header []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"header"`
	} `json:"response"`
}

func load(t *testing.T) (info struct{ Description string }, items []item) {
	t.Helper()
	raw, err := os.ReadFile("tiktok.postman_collection.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Info  struct{ Description string } `json:"info"`
		Items []item                       `json:"item"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	var walk func([]item)
	walk = func(in []item) {
		for _, it := range in {
			if it.Request == nil {
				walk(it.Items)
				continue
			}
			items = append(items, it)
		}
	}
	walk(c.Items)
	return c.Info, items
}

// TestEveryRequestIsDocumented: a description that names the request's own
// route, and a saved example answer that matches api/openapi.yaml.
// `test/postman/run.sh --document` makes both.
func TestEveryRequestIsDocumented(t *testing.T) {
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	_, items := load(t)
	if len(items) < 100 {
		t.Fatalf("only %d requests", len(items))
	}
	for _, it := range items {
		r := it.Request
		path := "/" + strings.Join(r.URL.Path, "/")
		if len(r.URL.Path) == 0 {
			path = r.URL.Raw
		}
		if !strings.HasPrefix(r.Description, "`"+r.Method+" "+path+"`") {
			t.Errorf("%s: the description does not start with `%s %s`; run test/postman/run.sh --document", it.Name, r.Method, path)
		}
		if len(it.Response) == 0 {
			t.Errorf("%s: no saved example answer; run test/postman/run.sh --document", it.Name)
			continue
		}
		route, ok := spec.Route(doc, r.Method, path)
		if !ok {
			continue // media, outside the API
		}
		ex := it.Response[0]
		req := httptest.NewRequest(r.Method, path, nil)
		header := http.Header{}
		for _, h := range ex.Header {
			header.Set(h.Key, h.Value)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
			Status:                 ex.Code, Header: header,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		}
		in.SetBodyBytes(bytes.ReplaceAll([]byte(ex.Body), []byte("{{baseUrl}}"), []byte("http://127.0.0.1:8080")))
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s: the saved answer does not match api/openapi.yaml: %.300v", it.Name, err)
		}
	}
}

// TestTheDescriptionNamesWhatExists: the files the collection's description
// names exist, and so does the environment, by its file and its name.
func TestTheDescriptionNamesWhatExists(t *testing.T) {
	info, _ := load(t)
	root := filepath.Join("..", "..")
	fileLike := regexp.MustCompile("`([A-Za-z0-9_./-]+\\.(?:json|yaml|md|mp4|sh|mjs))`")
	found := 0
	for _, m := range fileLike.FindAllStringSubmatch(info.Description, -1) {
		name := m[1]
		if name == "/openapi.json" {
			continue // served, not a file
		}
		_, inRoot := os.Stat(filepath.Join(root, name))
		_, here := os.Stat(name)
		if inRoot != nil && here != nil {
			t.Errorf("the description names %s, which is neither in the repository nor in test/postman", name)
		}
		found++
	}
	if found < 3 {
		t.Errorf("the description names only %d files", found)
	}
	raw, err := os.ReadFile("local.postman_environment.json")
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ Name string }
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.Description, `"`+env.Name+`"`) {
		t.Errorf("the description does not name the environment %q", env.Name)
	}
}
