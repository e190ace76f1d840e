#!/usr/bin/env bash
# Runs every fuzz target of the module, one after another, each for
# FUZZTIME (default 30s). A target that fails leaves its input in
# <package>/testdata/fuzz/<Target>/: commit it with the fix, and plain
# `go test` replays it from then on.
#
#   FUZZTIME=2m test/fuzz/run.sh             # every target, 2 minutes each
#   test/fuzz/run.sh FuzzVerify FuzzBind     # only these
set -euo pipefail
cd "$(dirname "$0")/../.."

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
PARALLEL=${FUZZ_PARALLEL:-2}

# target lines: "<package dir> <FuzzName>", found in the test files so that a
# new target is picked up without editing this script.
mapfile -t targets < <(
  grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(' --exclude-dir=node_modules --exclude-dir=.git . |
    sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)\($#\1 \2#' | sort -u
)
if [ ${#targets[@]} -eq 0 ]; then
  echo "no fuzz targets found" >&2
  exit 1
fi

failed=()
for line in "${targets[@]}"; do
  dir=${line% *}
  name=${line#* }
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then
    continue
  fi
  echo "== $name in ./$dir for $FUZZTIME"
  if ! $GO test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel "$PARALLEL" "./$dir"; then
    failed+=("$name (./$dir/testdata/fuzz/$name)")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failures:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "every fuzz target ran $FUZZTIME without a failure"
