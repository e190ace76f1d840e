package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tiktok-lite/server/test/docs"
)

var update = flag.Bool("update", false, "rewrite the documented configuration table from Keys")

// TestConfigTableIsTheKeys fails when the documented configuration table
// and the declared keys differ; `make tables` rewrites the table.
func TestConfigTableIsTheKeys(t *testing.T) {
	docs.Section(t, "docs/operations.md",
		"<!-- config table: made from pkg/config/keys.go by `make tables`; edit the keys there -->",
		"<!-- /config table -->", MarkdownTable(), "make tables", *update)
}

// TestEveryFieldIsAKey compares the keys with the fields of Config, so a
// field cannot be added without its default and documentation.
func TestEveryFieldIsAKey(t *testing.T) {
	var fields []string
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			name := prefix + f.Tag.Get("mapstructure")
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == typ.PkgPath() {
				walk(name+".", f.Type)
				continue
			}
			fields = append(fields, name)
		}
	}
	walk("", reflect.TypeOf(Config{}))
	var keys []string
	seen := map[string]bool{}
	for _, k := range Keys {
		if seen[k.Name] {
			t.Errorf("key %s is declared twice", k.Name)
		}
		seen[k.Name] = true
		if strings.TrimSpace(k.Doc) == "" {
			t.Errorf("key %s has no documentation", k.Name)
		}
		keys = append(keys, k.Name)
	}
	sort.Strings(fields)
	sort.Strings(keys)
	if !reflect.DeepEqual(fields, keys) {
		t.Errorf("Config's fields and Keys differ:\n fields %v\n keys   %v", fields, keys)
	}
}

// TestDataDirMovesEverything: with the shipped file, data_dir alone moves
// every file the server writes.
func TestDataDirMovesEverything(t *testing.T) {
	for _, shipped := range []string{DefaultPath, ".config/config.fullstack.yaml", ".config/deploy/config.yaml"} {
		dir := t.TempDir()
		vars := map[string]string{"TIKTOK_DATA_DIR": dir, "TIKTOK_JWT_SECRET": strings.Repeat("s", 40)}
		if strings.Contains(shipped, "deploy") { // what the guide has the operator fill in
			vars["TIKTOK_SERVER_PUBLIC_URL"] = "http://192.0.2.1"
			vars["TIKTOK_DATABASE_DSN"] = "u:p@tcp(127.0.0.1:3306)/tiktok"
		}
		cfg, err := Load(filepath.Join("..", "..", shipped), env(vars))
		if err != nil {
			t.Fatalf("%s: %v", shipped, err)
		}
		paths := map[string]string{"storage.local.dir": cfg.Storage.Local.Dir}
		if cfg.Log.File != "" { // empty: the journal keeps the log
			paths["log.file"] = cfg.Log.File
		}
		if cfg.Embedded() {
			paths["database.dsn"] = cfg.Database.DSN
		}
		for key, p := range paths {
			if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Errorf("%s: %s = %q, not under data_dir %s", shipped, key, p, dir)
			}
		}
	}
}

func TestBcryptCostBelowTenOnlyInTests(t *testing.T) {
	for _, c := range []struct {
		vars    map[string]string
		problem string
	}{
		{map[string]string{}, ""},
		{map[string]string{"TIKTOK_AUTH_BCRYPT_COST": "9"}, "auth.bcrypt_cost: must be at least 10"},
		{map[string]string{"TIKTOK_AUTH_BCRYPT_COST": "4", "TIKTOK_MODE": "test"}, ""},
		{map[string]string{"TIKTOK_AUTH_BCRYPT_COST": "3", "TIKTOK_MODE": "test"}, "auth.bcrypt_cost: must be between 4 and 31"},
		{map[string]string{"TIKTOK_MODE": "staging"}, "mode: must be production or test"},
	} {
		cfg, err := Load("", env(c.vars))
		switch {
		case c.problem == "" && err != nil:
			t.Errorf("%v: %v", c.vars, err)
		case c.problem == "" && cfg.Auth.BcryptCost < 4:
			t.Errorf("%v: cost %d", c.vars, cfg.Auth.BcryptCost)
		case c.problem != "" && (err == nil || !strings.Contains(err.Error(), c.problem)):
			t.Errorf("%v: err = %v, want %q", c.vars, err, c.problem)
		}
	}
}

// TestFullStackExampleHasEveryKey: the commented full-stack example names
// every declared key, and nothing else.
func TestFullStackExampleHasEveryKey(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", ".config", "config.fullstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var inFile []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			inFile = append(inFile, prefix+k)
		}
	}
	walk("", doc)
	var keys []string
	for _, k := range Keys {
		keys = append(keys, k.Name)
	}
	sort.Strings(inFile)
	sort.Strings(keys)
	if !reflect.DeepEqual(inFile, keys) {
		t.Errorf("config.fullstack.yaml's keys differ from Keys:\n file %v\n keys %v", inFile, keys)
	}
}
