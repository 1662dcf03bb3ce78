#!/usr/bin/env bash
# Print the directory of speedscope's offline web build (index.html), a trace viewer that reads
# Chrome trace-event JSON (--format perfetto). t_labs.sh opens a boot's trace in it with headless
# Chromium. Fetched once with npm from the npm registry (a pinned version) and kept in
# ~/.cache/ekprobe, outside the clone.
set -euo pipefail
version=1.25.0
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ekprobe/speedscope-$version
if [ ! -f "$cache/package/dist/release/index.html" ]; then
	command -v npm >/dev/null || { echo "speedscope.sh: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
	tmp=$(mktemp -d "${cache%/*}/.speedscope.XXXXXX" 2>/dev/null || { mkdir -p "${cache%/*}"; mktemp -d "${cache%/*}/.speedscope.XXXXXX"; })
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "speedscope@$version" >/dev/null && tar xzf "speedscope-$version.tgz")
	[ -f "$tmp/package/dist/release/index.html" ] || { echo "speedscope.sh: no dist/release/index.html in speedscope $version" >&2; exit 1; }
	rm -rf "$cache" && mv "$tmp" "$cache"
fi
echo "$cache/package/dist/release"
