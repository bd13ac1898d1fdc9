#!/usr/bin/env bash
# Builds guest.wasm from guest.wat with wabt's wat2wasm (apt-get install wabt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
wat2wasm guest.wat -o guest.wasm
