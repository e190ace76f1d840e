# The two commands a new user needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/tiktok-server
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: help run build test vet fmt tables release image clean postman postman-fullstack e2e-web bench fuzz fault soak scaleout
.DEFAULT_GOAL := help

## help: this list (also what a bare `make` prints)
help:
	@awk '/^## / { sub(/^## /, ""); split($$0, a, ": "); if (a[2] != "") printf "  make %-18s %s\n", a[1], substr($$0, length(a[1]) + 3); else printf "  %-23s %s\n", "", $$0 }' $(MAKEFILE_LIST)

## run: serve on the embedded default (SQLite, local media) at :8080
## (built first, then run, so Ctrl-C stops the server and nothing else)
run:
	@mkdir -p bin
	$(GO) build -ldflags '-X main.version=$(VERSION) -X main.commit=$(COMMIT)' -o bin/tiktok-server-dev ./cmd/tiktok-server
	exec bin/tiktok-server-dev

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/tiktok-server

## test: every Go test with the race detector, against the real MariaDB,
## Redis and RabbitMQ (addresses in TIKTOK_TEST_* variables; local defaults),
## closing with what passed, failed and was skipped, and why
test: vet
	$(GO) run ./test/summary $(GO) test -race -count=1 -timeout 15m ./...

## vet: go vet and a gofmt check
vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

fmt:
	gofmt -w $$(git ls-files '*.go')

## tables: rewrite the generated tables of the docs: configuration (from
## pkg/config/keys.go) and error codes (from api/openapi.yaml)
tables:
	$(GO) test ./pkg/config ./api -run 'TestConfigTableIsTheKeys|TestErrorTableIsTheDocument' -update

## postman: the Postman collection (newman) against a fresh embedded server, twice
postman:
	test/postman/run.sh

## postman-fullstack: the same against MySQL, Redis and RabbitMQ (a fresh
## database and key prefix on the local services, or TIKTOK_TEST_* addresses)
postman-fullstack:
	test/postman/fullstack.sh

## e2e-web: the web client driven in headless Chromium (Playwright)
e2e-web:
	bash test/web/run.sh

## bench: speed of the real binary under wrk, with a ceiling and counter checks
## (BENCH_QUICK=1 for a three-minute smoke run)
bench:
	bash test/bench/run.sh

## fuzz: every fuzz target, FUZZTIME each (default 30s); fails on any finding
fuzz:
	test/fuzz/run.sh

## fault: the fault and shutdown tests alone (they also run in make test)
fault:
	$(GO) test -race -count=1 -v ./test/fault/

## scaleout: three instances behind nginx on a MariaDB primary + GTID replica,
## a 6-node Redis Cluster and RabbitMQ quorum queues, all on loopback from
## Debian's packages: Postman through nginx, read-your-writes, req/s with
## 1-3 instances, kill -9 faults, counters (SCALEOUT_README=1: its figures
## into the README)
scaleout:
	$(GO) test -tags scaleout -count=1 -v -timeout 20m ./test/scaleout/

## soak: mixed traffic against the full stack for SOAK_DURATION (default 10m),
## failing if goroutines, DB connections or memory grow
soak:
	test/soak/run.sh

## release: static binaries for linux/amd64 and linux/arm64 in dist/
release:
	@mkdir -p dist
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o dist/tiktok-server-linux-$$arch ./cmd/tiktok-server || exit 1; \
	done
	cd dist && sha256sum tiktok-server-linux-* > SHA256SUMS

## image: the release image, FROM scratch from the amd64 release binary
## (any engine, Debian's docker.io included; nothing is pulled)
image: release
	VERSION=$(VERSION) COMMIT=$(COMMIT) docker/image.sh

clean:
	rm -rf bin dist
