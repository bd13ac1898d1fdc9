#!/usr/bin/env bash
# Rebuilds src/main/wasm/primes.wasm from its WAT source (needs wabt's wat2wasm).
set -euo pipefail
cd "$(dirname "$0")"
wat2wasm src/main/wasm/primes.wat -o src/main/wasm/primes.wasm
