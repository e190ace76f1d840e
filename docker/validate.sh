#!/usr/bin/env bash
# Checks the deployment files without a Docker engine:
#   docker/compose.yaml, Dockerfile, redis.conf, nginx.conf, grafana-dashboard.json
#   and .config/deploy/*.
# The Go checks always run. Where docker-compose (Debian: docker-compose),
# nginx (nginx-core), systemd-analyze (systemd) or redis-server are installed,
# the same tests also hand the files to them; otherwise those tests skip.
# Usage: docker/validate.sh [--install]   (--install apt-installs the tools first)
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--install" ]]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		docker-compose nginx-core redis-server >/dev/null
fi

go test -count=1 ./docker/...

# docker compose v2 checks the file too when present (it needs no engine for this).
if docker compose version >/dev/null 2>&1; then
	TIKTOK_JWT_SECRET=validate-only-0123456789abcdef0123 \
		docker compose -f docker/compose.yaml config -q
	echo "docker compose config: ok"
fi
