#!/usr/bin/env bash
# Shows the JDK 17 class-data-sharing hazard behind bin/wizer4j's archive: a dynamic archive
# (-XX:ArchiveClassesAtExit) keeps the "queued for compilation" mark of methods that were
# waiting for the JIT when the recording run exited (JDK-8306460, fixed in JDK 21). A method
# so marked is never compiled in any later run that maps the archive; when it is Endive's
# interpreter loop (InterpreterMachine.eval), every init runs in the bytecode interpreter.
#
# Usage: bench/cds-queued.sh [TRIALS]   (default 4)
# Records TRIALS archives the way the launcher does (one ordinary run of fixtures/wasm/ctors),
# then times primes' init with each; then the same with archives recorded under -Xint.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
trials="${1:-4}"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
jar="$root/wizer4j-cli/target/wizer4j.jar"
[[ -f $jar ]] || "$root/bin/wizer4j" --help >/dev/null
work="$(mktemp -d "${TMPDIR:-/tmp}/cds-queued.XXXXXX")"
trap 'rm -rf "$work"' EXIT
opts=(-Xss64m -XX:+UseParallelGC -XX:+UseCompressedOops -Xlog:cds=off -Xlog:cds+dynamic=off)
for mode in jit xint; do
  extra=()
  [[ $mode == xint ]] && extra=(-Xint)
  for ((t = 1; t <= trials; t++)); do
    a="$work/$mode-$t.jsa"
    "$java" "${opts[@]}" "${extra[@]}" -XX:ArchiveClassesAtExit="$a" -jar "$jar" \
      fixtures/wasm/ctors.wasm -o "$work/ctors.wasm" >/dev/null 2>&1
    ms=$("$java" "${opts[@]}" -XX:SharedArchiveFile="$a" -jar "$jar" -v fixtures/wasm/primes.wasm \
      -o "$work/primes.wasm" 2>&1 | awk '/call wizer-initialize/ {print $(NF-1)}')
    echo "archive recorded with $mode, trial $t: primes init $ms ms"
  done
done
