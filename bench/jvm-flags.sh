#!/usr/bin/env bash
# JVM configurations for wizer4j's command line, compared with hyperfine on the same jar:
# what class-data sharing, the garbage collector, the JIT tiers, huge-method compilation and a
# newer JDK (with its ahead-of-time cache) do to end-to-end time. See docs/BENCHMARKS.md.
#
# Usage: bench/jvm-flags.sh [NAME...]   (default: sieve ctors ruby; names: bench/corpus/NAME,
#        fixtures/wasm/NAME or ruby)
# Environment: RUNS=5, JDK25=/usr/lib/jvm/temurin-25-jdk-amd64 (skipped if missing),
#              OUT=bench/out (uses the frozen jar bench/run.sh leaves in OUT/w4j, or builds one)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
RUNS="${RUNS:-5}"
OUT="${OUT:-$here/out}"
JDK25="${JDK25:-/usr/lib/jvm/temurin-25-jdk-amd64}"
JAVA17="${JAVA_HOME:+$JAVA_HOME/bin/}java"
work="$OUT/jvm-flags"
mkdir -p "$work"

jar="$OUT/w4j/wizer4j-cli/target/wizer4j.jar"
if [[ ! -f $jar ]]; then
  "$root/bin/wizer4j" --help >/dev/null
  mkdir -p "$(dirname "$jar")"
  cp "$root/wizer4j-cli/target/wizer4j.jar" "$jar"
fi
[[ -f "$here/node_modules/@ruby/3.4-wasm-wasi/dist/ruby.wasm" ]] || (cd "$here" && npm ci --no-audit --no-fund >&2)

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(sieve ctors ruby)

# What bin/wizer4j passes to the JVM, read from the file the launcher reads.
launcher=()
while IFS= read -r line || [[ -n $line ]]; do
  line="${line%%#*}"
  [[ $line == compiler:* ]] && continue # only for the compiler engine; see bin/jvm.options
  read -r -a words <<<"$line"
  launcher+=("${words[@]}")
done <"$root/bin/jvm.options"
# The launcher's options until it moved to the serial collector, for comparison.
parallel=(-Xss64m -XX:+UseParallelGC -XX:-DontCompileHugeMethods)
quiet=(-Xlog:cds=off -Xlog:cds+dynamic=off)

report="$OUT/jvm-flags.md"
{
  echo "# wizer4j under several JVM configurations ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM; JDK 17: $("$JAVA17" -version 2>&1 | sed -n 2p)"
  [[ -x $JDK25/bin/java ]] && echo "- JDK 25: $("$JDK25/bin/java" -version 2>&1 | sed -n 2p)"
  echo "- hyperfine, 1 warm-up + $RUNS runs per configuration (configurations run one after the other); times in ms"
  echo "- launcher options: ${launcher[*]}"
  echo "- class-data archives and the AOT cache are recorded once, from a run on fixtures/wasm/readfile; JDK 17 dynamic archives under -Xint"
  echo
} >"$report"

# Archives are recorded once, from one run on fixtures/wasm/readfile (parse, WASI, the
# interpreter, snapshot, rewrite), and used for every input: what a launcher that records at
# build time would ship. JDK 17 dynamic archives are recorded without a JIT (-Xint): see
# bench/cds-queued.sh for why.
train() { # train JAVA [options...]
  "$@" -jar "$jar" --allow-wasi --mapdir /data::fixtures/data fixtures/wasm/readfile.wasm \
    -o "$work/training.wasm" >/dev/null 2>&1 || echo "bench: training run failed: $*" >&2
}
a17="$work/17.jsa" apar="$work/17-parallel.jsa"
a25="$work/25.jsa" aot="$work/25.aot"
rm -f "$a17" "$apar" "$a25" "$aot"
train "$JAVA17" "${launcher[@]}" "${quiet[@]}" -Xint -XX:ArchiveClassesAtExit="$a17"
train "$JAVA17" "${parallel[@]}" "${quiet[@]}" -Xint -XX:ArchiveClassesAtExit="$apar"
if [[ -x $JDK25/bin/java ]]; then
  train "$JDK25/bin/java" "${launcher[@]}" "${quiet[@]}" -XX:ArchiveClassesAtExit="$a25"
  train "$JDK25/bin/java" "${launcher[@]}" -XX:AOTCacheOutput="$aot" -Xlog:aot=off -Xlog:cds=off
fi

for name in "${names[@]}"; do
  if [[ $name == ruby ]]; then
    input="$here/node_modules/@ruby/3.4-wasm-wasi/dist/ruby.wasm"
    args=(--allow-wasi --inherit-env --keep-init-func -f wasi_vfs_pack_fs
      -r _initialize=__wasi_vfs_rt_init --mapdir "/app::$here/ruby-app")
    envs=(env __WASI_VFS_PACKING=1)
  elif [[ -f $here/corpus/$name.wasm ]]; then
    input="$here/corpus/$name.wasm"
    args=()
    envs=(env)
  else
    input="fixtures/wasm/$name.wasm"
    args=()
    [[ -f fixtures/wasm/$name.args ]] && read -r -a args <"fixtures/wasm/$name.args"
    envs=(env)
  fi
  tail_args=(-jar "$jar" "${args[@]}" "$input" -o "$work/$name.out.wasm")

  cmds=()
  cfg() { # cfg NAME JAVA [options...]
    local n=$1 j=$2
    shift 2
    cmds+=(-n "$n" "$(printf '%q ' "${envs[@]}" "$j" "$@" "${tail_args[@]}")")
  }
  cfg "17 launcher options + AppCDS" "$JAVA17" "${launcher[@]}" -XX:SharedArchiveFile="$a17" "${quiet[@]}"
  cfg "17 + TieredStopAtLevel=1 (C1 only)" "$JAVA17" "${launcher[@]}" -XX:SharedArchiveFile="$a17" "${quiet[@]}" -XX:TieredStopAtLevel=1
  cfg "17 + MaxTenuringThreshold=0" "$JAVA17" "${launcher[@]}" -XX:SharedArchiveFile="$a17" "${quiet[@]}" -XX:MaxTenuringThreshold=0
  cfg "17 + ReservedCodeCacheSize=512m" "$JAVA17" "${launcher[@]}" -XX:SharedArchiveFile="$a17" "${quiet[@]}" -XX:ReservedCodeCacheSize=512m
  cfg "17 ParallelGC + AppCDS" "$JAVA17" "${parallel[@]}" -XX:SharedArchiveFile="$apar" "${quiet[@]}"
  if [[ -x $JDK25/bin/java ]]; then
    cfg "25 launcher options + AppCDS" "$JDK25/bin/java" "${launcher[@]}" -XX:SharedArchiveFile="$a25" "${quiet[@]}"
    cfg "25 AOT cache (JEP 483/515)" "$JDK25/bin/java" "${launcher[@]}" -XX:AOTCache="$aot" -Xlog:aot=off -Xlog:cds=off
  fi

  echo "bench: $name" >&2
  hyperfine -N -w 1 -r "$RUNS" --export-json "$work/$name.json" "${cmds[@]}" >&2
  # One more run of each configuration under time(1), for its peak RSS.
  : >"$work/$name.rss"
  for ((i = 0; i < ${#cmds[@]}; i += 3)); do
    eval "/usr/bin/time -f %M -o $work/.rss ${cmds[i + 2]}" >/dev/null 2>&1 || true
    tail -n1 "$work/.rss" >>"$work/$name.rss"
  done
  {
    echo "## $name"
    echo
    echo "| configuration | median ms | mean ± σ ms | min ms | vs first row | peak RSS MiB |"
    echo "|---|---:|---:|---:|---:|---:|"
    node -e '
      const fs = require("fs");
      const r = JSON.parse(fs.readFileSync(process.argv[1])).results;
      const rss = fs.readFileSync(process.argv[2], "utf8").trim().split("\n");
      const ms = (s) => (s * 1000).toFixed(0);
      r.forEach((x, i) => console.log(`| ${x.command} | ${ms(x.median)} | ${ms(x.mean)} ± ${ms(x.stddev)} | ` +
        `${ms(x.min)} | ${(x.median / r[0].median).toFixed(2)} | ${(rss[i] / 1024).toFixed(0)} |`));
    ' "$work/$name.json" "$work/$name.rss"
    echo
  } >>"$report"
done
cat "$report"
