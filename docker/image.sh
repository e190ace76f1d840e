#!/bin/sh
# Builds the release image (docker/release.Dockerfile) from dist/'s static
# binary: no base image, nothing pulled, no BuildKit.
#   docker/image.sh [TAG]       default tag tiktok-lite/server:$VERSION
#   ARCH=arm64 docker/image.sh  the arm64 binary; BINARY=path for another one
set -eu
cd "$(dirname "$0")/.."
arch=${ARCH:-amd64}
version=${VERSION:-dev}
tag=${1:-tiktok-lite/server:$version}
bin=${BINARY:-dist/tiktok-server-linux-$arch}
[ -x "$bin" ] || { echo "image: $bin is missing: run make release first" >&2; exit 1; }
certs=/etc/ssl/certs/ca-certificates.crt
[ -f "$certs" ] && [ -d /usr/share/zoneinfo ] ||
	{ echo "image: needs $certs and /usr/share/zoneinfo (apt-get install ca-certificates tzdata)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/usr/share" "$ctx/data"
cp "$bin" "$ctx/rootfs/tiktok-server"
cp "$certs" "$ctx/rootfs/etc/ssl/certs/"
cp -R /usr/share/zoneinfo "$ctx/rootfs/usr/share/"
echo 'nonroot:x:65532:65532:nonroot:/data:/sbin/nologin' >"$ctx/rootfs/etc/passwd"
echo 'nonroot:x:65532:' >"$ctx/rootfs/etc/group"
cp docker/release.Dockerfile "$ctx/Dockerfile"
docker build -q --build-arg VERSION="$version" --build-arg COMMIT="${COMMIT:-unknown}" -t "$tag" "$ctx"
echo "image: built $tag"
