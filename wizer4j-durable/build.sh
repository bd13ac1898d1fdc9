#!/usr/bin/env bash
# Builds the test guest, src/test/resources/guest.wasm, from guest.wat with wabt's wat2wasm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/src/test/resources"
wat2wasm guest.wat -o guest.wasm
