#!/usr/bin/env bash
# Refreshes the vendored Swagger UI (the API reference page) from the npm
# registry: swagger-ui-dist at the version below, its bundle, stylesheet and
# licences only. SHA256SUMS records what was taken; a test checks the files
# still match it, so the bundle is never edited by hand.
#
#   pkg/webui/vendor.sh            # the pinned version
#   SWAGGER_UI_VERSION=5.36.0 pkg/webui/vendor.sh
set -euo pipefail
version="${SWAGGER_UI_VERSION:-5.35.0}"
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/assets/vendor/swagger-ui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
timeout 120 npm pack --silent "swagger-ui-dist@$version" >/dev/null
tar xzf "swagger-ui-dist-$version.tgz"
mkdir -p "$dest"
rm -f "$dest"/*
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; do
  cp "package/$f" "$dest/$f"
done
cd "$dest"
{ echo "# swagger-ui-dist $version from the npm registry, by pkg/webui/vendor.sh"
  sha256sum swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css LICENSE NOTICE; } > SHA256SUMS
echo "vendored swagger-ui-dist $version into $dest"
