#!/bin/sh
# Builds Ory Hydra v2.3.0 (with SQLite, so that DSN=memory works) from the
# tool dependency in this module's go.mod into a cache directory outside the
# repository, and prints the binary's path. A warm run does nothing but print.
#
#   RPKIT_CACHE  cache root (default $HOME/.cache/rpkit)
#
# The first build takes several minutes.
set -eu

version=v2.3.0
cache=${RPKIT_CACHE:-${HOME:?}/.cache/rpkit}
dir=$cache/hydra-$version
bin=$dir/hydra

if [ -x "$bin" ]; then
	echo "$bin"
	exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
tmp=$(mktemp "$dir/.hydra.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM

echo "building Ory Hydra $version into $bin (this takes minutes) ..." >&2
cd "$here"
GOWORK=off CGO_ENABLED=1 go build -trimpath -tags sqlite,sqlite_omit_load_extension \
	-o "$tmp" github.com/ory/hydra/v2 >&2
chmod +x "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT INT TERM
echo "$bin"
