package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// runHealthcheck is `tiktok-server healthcheck`: GET /healthz of the server
// that this configuration describes, on this host. It is the probe of the
// scratch image, which has no shell or curl.
func runHealthcheck(ctx context.Context, args []string, stdout io.Writer) error {
	fs, serverConfig := serverSubcommand("healthcheck", "the server's configuration file", stdout)
	url := fs.String("url", "", "probe this URL instead of /healthz on server.addr's port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unknown argument %q", fs.Arg(0))
	}
	if *url == "" {
		cfg, err := serverConfig()
		if err != nil {
			return err
		}
		_, port, err := net.SplitHostPort(cfg.Server.Addr)
		if err != nil {
			return fmt.Errorf("healthcheck: server.addr: %w", err)
		}
		*url = "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New("healthcheck: " + *url + " answered " + resp.Status)
	}
	fmt.Fprintln(stdout, "healthy:", *url)
	return nil
}
