#!/usr/bin/env bash
# Prints the path of the pinned Rust Wizer binary (npm @bytecodealliance/wizer 11.0.3), installing
# it into tools/rust-wizer/node_modules on first use. The one copy bench/ and tools/wizer-compare/
# both run. Exit status 2 if it cannot be installed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/node_modules/@bytecodealliance/wizer-linux-x64/wizer"
if [[ ! -x $bin ]]; then
  echo "rust-wizer: installing @bytecodealliance/wizer 11.0.3 with npm into $here/node_modules" >&2
  # package.json pins the exact version, and the package pins its platform binaries exactly. No
  # lock file: npm 11 refuses ('npm ci') a lock that lists only this platform's optional binary.
  (cd "$here" && npm install --no-audit --no-fund --no-package-lock >&2) || {
    echo "rust-wizer: npm install failed" >&2
    exit 2
  }
fi
[[ -x $bin ]] || { echo "rust-wizer: $bin missing after install" >&2; exit 2; }
echo "$bin"
