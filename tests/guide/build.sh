#!/usr/bin/env bash
# Builds the user guide (docs/, an mdBook: docs/book.toml, docs/SUMMARY.md) into target/guide,
# failing on any error (a bad book.toml or SUMMARY.md, a chapter whose file is missing).
# mdBook is not packaged for Debian 12: the first run installs it from crates.io into
# ~/.cache/aiex-tools (~3 min on 2 cores, no file watcher or web server: only `build` is
# needed); later runs reuse that binary. The built site's links are checked here
# (check_site.py), the Markdown's by tests/guide_links.rs.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
tools="${AIEX_TOOLS:-$HOME/.cache/aiex-tools}"
version=0.5.4
mdbook="$(command -v mdbook || true)"
if [[ -z "$mdbook" ]]; then
  mdbook="$tools/bin/mdbook"
  if [[ ! -x "$mdbook" ]] || ! "$mdbook" --version | grep -q "v$version"; then
    echo "installing mdbook $version into $tools" >&2
    nice -n 10 cargo install --quiet --locked mdbook --version "$version" \
      --no-default-features --features search --root "$tools"
  fi
fi
"$mdbook" --version >&2
"$mdbook" build "$repo/docs"
test -f "$repo/target/guide/index.html" || { echo "mdbook wrote no index.html" >&2; exit 1; }
python3 "$repo/tests/guide/check_site.py" "$repo/target/guide"
echo "the guide: $repo/target/guide/index.html" >&2
