package routes

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/tiktok-lite/server/controller"
	"github.com/tiktok-lite/server/middleware"
	"github.com/tiktok-lite/server/test/spec"
)

// TestEveryRouteIsInTheDocument compares the engine's routes with the
// paths of api/openapi.yaml both ways. The file servers (the web client,
// media and default images) are not API routes and are left out.
func TestEveryRouteIsInTheDocument(t *testing.T) {
	engine, err := New(Deps{
		Log:    zap.NewNop(),
		Auth:   middleware.NewAuth(nil, zap.NewNop()),
		Health: controller.NewHealth(zap.NewNop()),
		Media:  http.NotFoundHandler(), Static: http.NotFoundHandler(), Web: http.NotFoundHandler(), Spec: http.NotFoundHandler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, r := range engine.Routes() {
		if r.Path == "/" || strings.HasPrefix(r.Path, "/web/") || strings.HasPrefix(r.Path, "/media/") || strings.HasPrefix(r.Path, "/static/") {
			continue
		}
		path := r.Path
		if strings.HasPrefix(path, "/douyin/") && !strings.HasSuffix(path, "/") {
			path += "/" // both forms are one route, written with the slash
		}
		served = append(served, r.Method+" "+path)
	}
	slices.Sort(served)
	served = slices.Compact(served)

	doc, err := spec.Load()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(documented)

	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is served but not in api/openapi.yaml", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("%s is in api/openapi.yaml but not served", r)
		}
	}
	if len(served) < 19 {
		t.Errorf("only %d routes found: %v", len(served), served)
	}
}
