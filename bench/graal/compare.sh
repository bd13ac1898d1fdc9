#!/usr/bin/env bash
# Cold command-line runs, interleaved, of Rust Wizer 11.0.3, wizer4j on Endive (bin/wizer4j,
# default engine = interpreter) and wizer4j on GraalWasm (bin/wizer4j-graal, JDK 25 + Graal JIT),
# on the same inputs with the same flags. Prints per input and tool the median wall time and
# median peak RSS (GNU time), and compares every output's snapshot with Wizer's
# (bench/graal/snapdiff.mjs: globals, memory sizes and images).
#
# Usage: bench/graal/compare.sh NAME...
#   NAME is a fixtures/wasm/NAME.wasm (flags from NAME.args), or sm-hello / sm-heavy: the
#   StarlingMonkey inputs captured from componentize-js 0.23.0 under /work/corpus/starlingmonkey
#   (replayed with its replay.sh; sm-heavy is the same engine initializing a JS file that sieves
#   and sorts at top level).
# Environment: RUNS=3, TOOLS="wizer endive graal" (also: endive-compiler,
#   graal-nojit),
#   WIZER=path to Rust Wizer, CORPUS=/work/corpus/starlingmonkey, OUT=bench/graal/out
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
RUNS="${RUNS:-3}"
TOOLS="${TOOLS:-wizer endive graal}"
CORPUS="${CORPUS:-/work/corpus/starlingmonkey}"
WIZER="${WIZER:-$CORPUS/node_modules/@bytecodealliance/wizer-linux-x64/wizer}"
OUT="${OUT:-$here/out}"
mkdir -p "$OUT"

tool_cmd() {
  case "$1" in
    wizer) echo "$WIZER" ;;
    endive) echo "$root/bin/wizer4j" ;;
    endive-compiler) echo "$root/bin/wizer4j --engine compiler" ;;
    graal) echo "$root/bin/wizer4j-graal" ;;
    graal-nojit) echo "env WIZER4J_GRAAL_JIT=0 $root/bin/wizer4j-graal" ;;
  esac
}

# run INPUT TOOL OUTPUT: one cold run; prints "seconds kilobytes" (or "fail")
run() {
  local input=$1 tool=$2 out=$3 cmd
  read -r -a cmd <<<"$(tool_cmd "$tool")"
  local t="$OUT/$input.$tool.time"
  local status=0
  case "$input" in
    sm-hello) /usr/bin/time -f "%e %M" -o "$t" "$CORPUS/replay.sh" "$out" "${cmd[@]}" \
                >"$OUT/$input.$tool.log" 2>&1 || status=$? ;;
    sm-heavy) /usr/bin/time -f "%e %M" -o "$t" "$CORPUS/heavy/replay.sh" "$out" "${cmd[@]}" \
                >"$OUT/$input.$tool.log" 2>&1 || status=$? ;;
    *) local args=()
       [[ -f fixtures/wasm/$input.args ]] && read -r -a args <"fixtures/wasm/$input.args"
       /usr/bin/time -f "%e %M" -o "$t" "${cmd[@]}" "${args[@]}" -o "$out" \
         "fixtures/wasm/$input.wasm" >"$OUT/$input.$tool.log" 2>&1 || status=$? ;;
  esac
  if [[ $status != 0 ]]; then echo fail; else tail -1 "$t"; fi
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else print a[int((NR+1)/2)]}'; }

printf '| input | tool | wall s (median of %s) | all runs | peak RSS MB | snapshot vs Wizer |\n|---|---|---|---|---|---|\n' "$RUNS"
for input in "$@"; do
  declare -A walls=() rss=()
  for ((i = 1; i <= RUNS; i++)); do
    for tool in $TOOLS; do
      r=$(run "$input" "$tool" "$OUT/$input.$tool.wasm")
      if [[ $r == fail ]]; then walls[$tool]+="fail "; continue; fi
      walls[$tool]+="${r% *} "
      rss[$tool]+="${r#* } "
    done
  done
  for tool in $TOOLS; do
    w=$(tr ' ' '\n' <<<"${walls[$tool]}" | { grep -v -e '^$' -e fail || true; } | median)
    m=$(tr ' ' '\n' <<<"${rss[$tool]:-}" | { grep -v '^$' || true; } | median)
    [[ $m != - ]] && m=$((m / 1024))
    cmp="-"
    if [[ $tool != wizer && -f $OUT/$input.wizer.wasm && -f $OUT/$input.$tool.wasm ]]; then
      if cmp -s "$OUT/$input.wizer.wasm" "$OUT/$input.$tool.wasm"; then cmp="byte-identical"
      else cmp=$(node "$here/snapdiff.mjs" "$OUT/$input.wizer.wasm" "$OUT/$input.$tool.wasm" \
                   | grep -E '^memory|^global [0-9]' | head -2 | tr '\n' ';' | cut -c1-120 || true); fi
    fi
    printf '| %s | %s | %s | %s | %s | %s |\n' "$input" "$tool" "$w" "${walls[$tool]}" "$m" "$cmp"
  done
  unset walls rss
done
