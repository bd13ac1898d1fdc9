#!/usr/bin/env bash
# Builds the benchmark corpus (bench/corpus/*.wasm) from its sources with clang-14 and wasi-libc
# (Debian: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 libc++-14-dev-wasm32
# libc++abi-14-dev-wasm32). The built modules are committed; wordfreq's input is generated, not
# committed: `bench/corpus/build.sh data` writes it to $CORPUS_DATA (default /work/corpus/wordfreq).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
CC="${CC:-clang-14}"
CXX="${CXX:-clang++-14}"
SYSROOT="${WASI_SYSROOT:-/usr}"
common=(--target=wasm32-wasi "--sysroot=$SYSROOT" -mexec-model=reactor -O2 -Wall -Wextra -g0
  -Wl,--strip-debug)

data() {
  local dir="${CORPUS_DATA:-/work/corpus/wordfreq}"
  mkdir -p "$dir"
  if [[ ! -f $dir/words.txt ]]; then
    node "$here/gen-words.mjs" "$dir/words.txt.$$" 350000 && mv -f "$dir/words.txt.$$" "$dir/words.txt"
  fi
  echo "$dir"
}

if [[ ${1:-} == data ]]; then data; exit 0; fi

echo "cc   sieve.wasm"
"$CC" "${common[@]}" sieve.c -o sieve.wasm
echo "cc   wordfreq.wasm"
"$CC" "${common[@]}" wordfreq.c -o wordfreq.wasm
echo "c++  ctors.wasm"
"$CXX" "${common[@]}" -fno-exceptions -std=c++17 ctors.cpp -o ctors.wasm
chmod -x ./*.wasm
