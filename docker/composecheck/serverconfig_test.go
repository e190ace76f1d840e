package composecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tiktok-lite/server/pkg/config"
)

// testJWTSecret stands in for the secret an operator generates.
const testJWTSecret = "0123456789abcdef0123456789abcdef0123456789abcdef"

// interpolate resolves compose's ${VAR}, ${VAR:-default} and ${VAR:?message}
// against vars, as compose does when the variable is set or has a default.
func interpolate(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	re := regexp.MustCompile(`\$\{(\w+)(?:(:?[-?])([^}]*))?\}`)
	return re.ReplaceAllStringFunc(s, func(m string) string {
		parts := re.FindStringSubmatch(m)
		if v, ok := vars[parts[1]]; ok && v != "" {
			return v
		}
		if strings.HasSuffix(parts[2], "-") {
			return parts[3]
		}
		t.Errorf("compose variable %s is required and unset", parts[1])
		return ""
	})
}

// envFile reads KEY=VALUE lines as systemd's EnvironmentFile does for simple values.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: line %q is not KEY=VALUE", path, line)
			continue
		}
		if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
			value = value[1 : len(value)-1] // systemd drops the quotes, as a shell does
		}
		out[key] = value
	}
	return out
}

// dockerfileEnv reads the ENV instruction of the runtime stage.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	df := string(readFile(t, filepath.Join(dockerDir, "Dockerfile")))
	block := regexp.MustCompile(`(?m)^ENV ((?:.*\\\n)*.*)$`).FindStringSubmatch(df)
	if block == nil {
		t.Fatal("Dockerfile has no ENV instruction")
	}
	out := map[string]string{}
	pair := regexp.MustCompile(`(\w+)="([^"]*)"`)
	for _, m := range pair.FindAllStringSubmatch(block[1], -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestServerAcceptsComposeEnvironment loads the server's configuration the
// way the container does (no file, image ENV then compose environment) and
// expects it to validate and to point at the compose services.
func TestServerAcceptsComposeEnvironment(t *testing.T) {
	env := dockerfileEnv(t)
	vars := map[string]string{"TIKTOK_JWT_SECRET": testJWTSecret}
	for k, v := range service(t, loadCompose(t), "server").Environment {
		env[k] = interpolate(t, v, vars)
	}
	// No file: config.Load falls back to .config/config.yaml relative to the
	// working directory, which does not exist here, so defaults apply as in the image.
	cfg, err := config.Load("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load with the compose environment: %v", err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"database.driver", cfg.Database.Driver, "mysql"},
		{"redis.addr", cfg.Redis.Addr, "redis:6379"},
		{"rabbitmq.url", cfg.RabbitMQ.URL, "amqp://tiktok:tiktok@rabbitmq:5672/"},
		{"data_dir", cfg.DataDir, "/data"},
		{"storage.local.dir", cfg.Storage.Local.Dir, "/data/media"},
		{"server.addr", cfg.Server.Addr, ":8080"},
		{"upload.ffmpeg", cfg.Upload.FFmpeg, "/usr/bin/ffmpeg"},
		{"jwt.secret", cfg.JWT.Secret, testJWTSecret},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	grace, err := time.ParseDuration(service(t, loadCompose(t), "server").StopGracePeriod)
	if err != nil {
		t.Fatal(err)
	}
	if grace <= cfg.Server.ShutdownTimeout {
		t.Errorf("stop_grace_period %v, want more than the server's shutdown_timeout %v", grace, cfg.Server.ShutdownTimeout)
	}
}

// TestServerAcceptsDeployConfig loads .config/deploy/config.yaml with the
// env file an operator fills in from env.example, once the placeholders
// of the guide are replaced, and refuses them while they are there.
func TestServerAcceptsDeployConfig(t *testing.T) {
	env := envFile(t, filepath.Join(deployDir, "env.example"))
	env["TIKTOK_JWT_SECRET"] = testJWTSecret
	getenv := func(k string) string { return env[k] }
	file := filepath.Join(deployDir, "config.yaml")
	if _, err := config.Load(file, getenv); err == nil || !strings.Contains(err.Error(), "VM_IP") || !strings.Contains(err.Error(), "CHANGE_ME") {
		t.Errorf("the deploy files with their placeholders: %v, want both refused", err)
	}
	// What the guide's steps do: sed on VM_IP, passwords in the env file.
	raw := strings.ReplaceAll(string(readFile(t, file)), "http://VM_IP", "http://203.0.113.7")
	file = filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(file, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range env {
		env[k] = strings.ReplaceAll(v, "CHANGE_ME", "s3cret")
	}

	cfg, err := config.Load(file, getenv)
	if err != nil {
		t.Fatalf("config.Load(deploy config.yaml): %v", err)
	}
	if cfg.Database.Driver != "mysql" || !strings.Contains(cfg.Database.DSN, "@tcp(127.0.0.1:3306)/tiktok?") {
		t.Errorf("database = %s %q, want mysql at 127.0.0.1:3306/tiktok", cfg.Database.Driver, cfg.Database.DSN)
	}
	if cfg.Upload.MaxBytes != deployConfig(t).Upload.MaxBytes {
		t.Errorf("upload.max_bytes = %d, want %d", cfg.Upload.MaxBytes, deployConfig(t).Upload.MaxBytes)
	}

	// Without the secret the server must refuse to start.
	delete(env, "TIKTOK_JWT_SECRET")
	if _, err := config.Load(file, getenv); err == nil || !strings.Contains(err.Error(), "jwt.secret") {
		t.Errorf("config.Load without TIKTOK_JWT_SECRET error = %v, want a jwt.secret error", err)
	}
}

// The env file reads the same in a shell as in systemd, so an operator can
// source it to run the binary by hand.
func TestEnvFileSourcesInAShell(t *testing.T) {
	path := filepath.Join(deployDir, "env.example")
	want := envFile(t, path)
	for key, value := range want {
		out, err := exec.Command("bash", "-c", `set -a; . "$1"; printf %s "${!2}"`, "bash", path, key).CombinedOutput()
		if err != nil {
			t.Fatalf("source %s in bash: %v: %s", path, err, out)
		}
		if string(out) != value {
			t.Errorf("%s is %q in a shell, %q for systemd", key, out, value)
		}
	}
}
