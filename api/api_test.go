package api_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tiktok-lite/server/api"
	"github.com/tiktok-lite/server/pkg/errcode"
	"github.com/tiktok-lite/server/service"
	"github.com/tiktok-lite/server/test/docs"
	"github.com/tiktok-lite/server/test/spec"
)

var update = flag.Bool("update", false, "rewrite the documented error-code table from api/openapi.yaml")

func TestTheDocumentIsValid(t *testing.T) {
	if _, err := spec.Load(); err != nil {
		t.Fatal(err)
	}
}

// TestServedJSONIsTheDocument: /openapi.json says what openapi.yaml says,
// with the server's own address as its server.
func TestServedJSONIsTheDocument(t *testing.T) {
	const public = "http://192.0.2.7:8080"
	h, err := api.Handler(public)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("HTTP %d, %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var served, written any
	if err := json.Unmarshal(rec.Body.Bytes(), &served); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(api.YAML, &written); err != nil {
		t.Fatal(err)
	}
	servers := served.(map[string]any)["servers"]
	if want := []any{map[string]any{"url": public, "description": "this server (server.public_url)"}}; !reflect.DeepEqual(servers, want) {
		t.Errorf("servers %v, want %v", servers, want)
	}
	written = normal(t, written)
	served.(map[string]any)["servers"] = written.(map[string]any)["servers"]
	if !reflect.DeepEqual(served, written) {
		t.Fatal("/openapi.json differs from api/openapi.yaml")
	}
}

// normal gives v the types encoding/json decodes to.
func normal(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type statusCode struct {
	Code    int32  `json:"const"`
	Title   string `json:"title"`
	Meaning string `json:"description"`
	Group   string `json:"x-group"`
	Example string `json:"x-example"`
}

func statusCodes(t *testing.T) []statusCode {
	t.Helper()
	raw, err := api.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas struct {
				StatusCode struct {
					OneOf []statusCode `json:"oneOf"`
				}
			}
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas.StatusCode.OneOf
}

// TestStatusCodesAreTheServers: the document lists exactly the codes the
// server can answer, success and pkg/errcode's table, in its order.
func TestStatusCodesAreTheServers(t *testing.T) {
	var documented, served []int32
	for _, c := range statusCodes(t) {
		documented = append(documented, c.Code)
		if c.Code != 0 && (c.Title == "" || c.Group == "" || c.Example == "") {
			t.Errorf("code %d needs a title, an x-group and an x-example", c.Code)
		}
	}
	served = append(served, 0)
	for _, e := range errcode.All() {
		served = append(served, e.Code)
	}
	if !slices.Equal(documented, served) {
		t.Fatalf("api/openapi.yaml's StatusCode lists %v; pkg/errcode has %v", documented, served)
	}
}

// errorTable is the Markdown table of the error codes, made from the
// document.
func errorTable(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| code | group | meaning | typical `status_msg` |\n|---|---|---|---|\n")
	for _, c := range statusCodes(t) {
		if c.Code == 0 {
			continue
		}
		meaning := c.Title
		if c.Meaning != "" {
			meaning += ": " + c.Meaning
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", c.Code, c.Group, meaning, c.Example)
	}
	return b.String()
}

// TestErrorTableIsTheDocument: the README's table of codes is made from
// api/openapi.yaml; `make tables` rewrites it.
func TestErrorTableIsTheDocument(t *testing.T) {
	docs.Section(t, "README.md",
		"<!-- error codes: made from api/openapi.yaml by `make tables`; edit them there -->",
		"<!-- /error codes -->", errorTable(t), "make tables", *update)
}

// TestLimitsAreTheServices: the lengths the document states are the ones
// the services enforce.
func TestLimitsAreTheServices(t *testing.T) {
	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	schemas := doc.Components.Schemas
	for _, c := range []struct {
		schema, field string
		want          int
	}{
		{"User", "name", service.MaxNameLen},
		{"Video", "title", service.MaxTitleLen},
		{"Comment", "content", service.MaxCommentLen},
		{"Message", "content", service.MaxMessageLen},
	} {
		prop := schemas[c.schema].Value.Properties[c.field].Value
		if prop.MaxLength == nil {
			t.Errorf("%s.%s: no maxLength, the service allows %d", c.schema, c.field, c.want)
		} else if int(*prop.MaxLength) != c.want {
			t.Errorf("%s.%s: maxLength %d, the service allows %d", c.schema, c.field, *prop.MaxLength, c.want)
		}
	}
}
