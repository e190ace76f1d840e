// Package api holds the client contract as an OpenAPI 3.1 document,
// openapi.yaml, embedded in the binary and served as JSON.
//
// The document is written by hand and kept honest by tests: every route
// of the engine is in it and nothing else (routes), every answer the
// end-to-end tests receive is validated against it (test/e2e), and so is
// every answer of the Postman runs (test/postman).
package api

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.yaml.in/yaml/v3"
)

// YAML is the document as written.
//
//go:embed openapi.yaml
var YAML []byte

// JSON returns the document as JSON, its keys in the order they are
// written, so that a viewer lists the routes as the file does.
func JSON() ([]byte, error) { return document("") }

// document is the JSON document; with a server address, that address is
// the document's only server, so that a tool importing it by URL (Postman,
// Apifox) sends its requests to the server it came from.
func document(server string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(YAML, &doc); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	if server != "" {
		if err := setServer(&doc, server); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, &doc); err != nil {
		return nil, fmt.Errorf("api/openapi.yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// setServer replaces the document's servers with the one at url.
func setServer(doc *yaml.Node, url string) error {
	var servers yaml.Node
	if err := servers.Encode([]map[string]string{{"url": url, "description": "this server (server.public_url)"}}); err != nil {
		return err
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "servers" {
			root.Content[i+1] = &servers
			return nil
		}
	}
	return fmt.Errorf("api/openapi.yaml has no servers")
}

// writeJSON writes one YAML node as JSON. Anchors and aliases are not
// used in the document, so they are refused rather than expanded.
func writeJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		return writeJSON(buf, n.Content[0])
	case yaml.MappingNode:
		buf.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			if i > 0 {
				buf.WriteByte(',')
			}
			key, err := json.Marshal(n.Content[i].Value)
			if err != nil {
				return err
			}
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeJSON(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeJSON(buf, item); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		out, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		buf.Write(out)
	default:
		return fmt.Errorf("line %d: anchors and aliases are not used here", n.Line)
	}
	return nil
}

// Handler serves the document as JSON at /openapi.json, naming publicURL
// (this server's server.public_url) as its server. It is made once; a
// document that does not convert is a build defect, caught by the tests.
func Handler(publicURL string) (http.Handler, error) {
	doc, err := document(publicURL)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		// Tools on other origins (an editor, a Postman or Apifox import by
		// URL in a browser) may read the document; it holds nothing secret.
		h.Set("Access-Control-Allow-Origin", "*")
		http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(doc))
	}), nil
}
