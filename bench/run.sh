#!/usr/bin/env bash
# End-to-end benchmark: pre-initializes the same inputs with wizer4j (bin/wizer4j) and with
# Rust Wizer 11.0.3, alternating the two in one session, and prints per input the median wall
# time, median peak RSS, output size and the wizer4j/Wizer ratios, plus the geometric mean of
# the wall-time ratios. Then it runs wizer4j once per input with each engine and once with -v
# for a breakdown of where its time goes. See docs/BENCHMARKS.md.
#
# Usage: bench/run.sh [NAME...]      (default: sieve ctors wordfreq starlingmonkey ruby)
#   NAME: a module of bench/corpus/ (built by bench/corpus/build.sh), a fixture of fixtures/wasm/,
#   `starlingmonkey` (componentize-js's init, captured into $CORPUS/starlingmonkey/) or `ruby`.
# Environment:
#   RUNS=5         measured runs per tool and input (interleaved)
#   WARMUP=1       unmeasured runs per tool and input first (file cache, class-data archive)
#   ENGINES=1      0 skips the --engine interpreter/compiler comparison
#   WARM=3         runs of each input in one JVM for the warm table (0 skips it)
#   CORPUS=/work/corpus  where big inputs live (outside the repository)
#   TIMEOUT=900    seconds before a single run is abandoned (reported as a failure)
#   WIZER=PATH     another Wizer binary (default: tools/rust-wizer, installed on demand)
#   JAVA_HOME      the JDK bin/wizer4j runs on; JAVA_OPTS adds JVM options to it
#   FREEZE=1       run a private copy of bin/wizer4j and its jar (0: the live bin/wizer4j,
#                  which rebuilds itself whenever a source file changes, mid-benchmark too)
#   OUT=bench/out  where outputs, logs and results.md go
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root" # the .args files hold paths relative to the repository root

RUNS="${RUNS:-5}"
WARMUP="${WARMUP:-1}"
ENGINES="${ENGINES:-1}"
WARM="${WARM:-3}"
CORPUS="${CORPUS:-/work/corpus}"
FREEZE="${FREEZE:-1}"
TIMEOUT="${TIMEOUT:-900}"
OUT="${OUT:-$here/out}"
W4J="$root/bin/wizer4j"
RUBY_PKG="$here/node_modules/@ruby/3.4-wasm-wasi"
RUBY_WASM="$RUBY_PKG/dist/ruby.wasm"
# The way `wasi-vfs pack` pre-initializes: wasi_vfs_pack_fs copies the mapped directories into
# linear memory, and the output's _initialize mounts them again at run time.
RUBY_ARGS=(--allow-wasi --inherit-env --keep-init-func -f wasi_vfs_pack_fs
  -r _initialize=__wasi_vfs_rt_init --mapdir "/app::$here/ruby-app")

say() { printf '%s\n' "$*" >&2; }

# --- set-up -------------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
  say "bench: installing GNU time (for peak RSS)"
  if [[ $(id -u) -ne 0 ]]; then
    say "bench: GNU time is missing; install it (apt-get install time) and run again"
    exit 2
  fi
  apt-get install -y -q time >&2
fi
if [[ ! -f "$RUBY_WASM" ]]; then
  say "bench: installing ruby.wasm into bench/node_modules (npm)"
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
# The one pinned Rust Wizer of the repository, shared with tools/wizer-compare.
WIZER="${WIZER:-$("$root/tools/rust-wizer/wizer-path.sh")}"
mkdir -p "$OUT"
rm -f "$OUT"/*.wasm "$OUT"/*.log

# The launcher rebuilds its jar when a source is newer than it. Benchmark a frozen copy of
# launcher and jar instead, so that an edit made meanwhile cannot turn a run into a build.
if [[ $FREEZE == 1 ]]; then
  for attempt in 1 2 3; do
    "$root/bin/wizer4j" --help >/dev/null 2>"$OUT/build.log" && break
    say "bench: building wizer4j failed (attempt $attempt), see $OUT/build.log"
    sleep 5
  done
  [[ -f "$root/wizer4j-cli/target/wizer4j.jar" ]] || { say "bench: no wizer4j jar"; exit 1; }
  rm -rf "$OUT/w4j"
  mkdir -p "$OUT/w4j/bin" "$OUT/w4j/wizer4j-cli/target"
  cp "$root/bin/wizer4j" "$root/bin/jvm.options" "$OUT/w4j/bin/"
  cp "$root/wizer4j-cli/target/wizer4j.jar" "$OUT/w4j/wizer4j-cli/target/"
  W4J="$OUT/w4j/bin/wizer4j"
  # The launcher records its class-data archive (-XX:ArchiveClassesAtExit) during whatever run
  # comes first. On JDK 17 that archive keeps the "queued for compilation" mark of any method
  # that was waiting for the JIT at exit (JDK-8306460, fixed in 21), and such a method is never
  # compiled again: when it is Endive's interpreter loop, init runs 15-33x slower for as long
  # as the archive lives. Record it here from a run without a JIT (-Xint), which has the same
  # classes and no queue, so that every measured run maps a sound archive.
  if [[ ${WIZER4J_CDS:-1} == 1 ]]; then
    jar="$OUT/w4j/wizer4j-cli/target/wizer4j.jar"
    opts=()
    while IFS= read -r line || [[ -n $line ]]; do # the launcher's JVM options
      line="${line%%#*}"
      [[ $line == compiler:* ]] && continue # only for the compiler engine; see bin/jvm.options
      read -r -a words <<<"$line"
      opts+=("${words[@]}")
    done <"$root/bin/jvm.options"
    "${JAVA_HOME:+$JAVA_HOME/bin/}java" "${opts[@]}" -Xint \
      -XX:ArchiveClassesAtExit="${jar%.jar}.jsa" -Xlog:cds=off -Xlog:cds+dynamic=off \
      -jar "$jar" --allow-wasi --mapdir /data::fixtures/data fixtures/wasm/readfile.wasm \
      -o "$OUT/cds-training.wasm" >"$OUT/cds-training.log" 2>&1 ||
      say "bench: recording the class-data archive failed (see $OUT/cds-training.log)"
  fi
fi

names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(sieve ctors wordfreq starlingmonkey ruby)

# componentize-js's init of StarlingMonkey, as captured from its wizer call into
# $CORPUS/starlingmonkey (see its README.txt): input.wasm, the environment componentize passes
# (replay-env.txt, and nothing else: `env -i`), stdin.txt, and two preopened directories.
SM="$CORPUS/starlingmonkey"

# input NAME -> sets $input, the args array and the envs array (env assignments) for it
set_input() {
  envs=()
  args=()
  if [[ $1 == ruby ]]; then
    input="$RUBY_WASM"
    args=("${RUBY_ARGS[@]}")
    envs=(__WASI_VFS_PACKING=1)
  elif [[ $1 == starlingmonkey ]]; then
    input="$SM/input.wasm"
    args=(--allow-wasi --init-func componentize.wizer
      "--mapdir=/tmp/253111d903f9/sources::$SM/dirs/dir-sources" "--mapdir=/::$SM/project"
      --wasm-bulk-memory=true --inherit-env=true)
    envs=(-i)
    [[ -f $SM/replay-env.txt ]] && mapfile -t -O 1 envs <"$SM/replay-env.txt"
  elif [[ $1 == wordfreq ]]; then
    input="$here/corpus/wordfreq.wasm"
    args=(--allow-wasi --mapdir "/data::$(CORPUS_DATA="$CORPUS/wordfreq" "$here/corpus/build.sh" data)")
  elif [[ -f $here/corpus/$1.wasm ]]; then
    input="$here/corpus/$1.wasm"
  else
    input="fixtures/wasm/$1.wasm"
    if [[ -f "fixtures/wasm/$1.args" ]]; then read -r -a args <"fixtures/wasm/$1.args"; fi
  fi
}
stdin_of() { if [[ $1 == starlingmonkey && -f $SM/stdin.txt ]]; then echo "$SM/stdin.txt"; else echo /dev/null; fi; }

# run TOOL NAME TAG [extra args...] -> prints "wall_ms rss_kb cpu_s status"; output in
# $OUT/NAME.TAG.wasm. cpu_s is user + system time of all threads (Wizer compiles in parallel).
run() {
  local tool=$1 name=$2 tag=$3
  shift 3
  local cmd=("$WIZER")
  [[ $tool == wizer4j ]] && cmd=("$W4J")
  local o="$OUT/$name.$tag.wasm" rss="$OUT/.rss" t0 t1 st=0
  rm -f "$o"
  t0=$EPOCHREALTIME
  env "${envs[@]}" timeout "$TIMEOUT" /usr/bin/time -f '%M %U %S' -o "$rss" \
    "${cmd[@]}" "$@" "${args[@]}" "$input" -o "$o" <"$(stdin_of "$name")" >>"$OUT/$name.$tag.log" 2>&1 || st=$?
  t1=$EPOCHREALTIME
  # time(1) writes a "Command exited with non-zero status" line first on failure.
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", (b-a)*1000}')" \
    "$(tail -n1 "$rss" 2>/dev/null | awk '{printf "%s %.2f", $1, $2 + $3}' || echo 0 0)" "$st"
}

median() { sort -g | awk '{v[NR]=$1} END{if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
size_of() { if [[ -f $1 ]]; then stat -c %s "$1"; else echo -; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a+0>0 && b+0>0) printf "%.2f", a/b; else print "-"}'; }

verify() { # verify NAME OUTPUT -> OK / FAIL / -
  local name=$1 o=$2 maps=() i
  [[ -f $o ]] || { echo "-"; return; }
  if [[ $name == starlingmonkey ]]; then
    echo "-" # no checker yet: its exports need the component's host
  elif [[ $name == ruby ]]; then
    node --no-warnings "$here/verify-ruby.mjs" "$o" >"$o.verify" 2>&1 && echo OK || echo FAIL
  elif [[ -f fixtures/verify.mjs ]]; then
    for ((i = 0; i < ${#args[@]}; i++)); do
      [[ ${args[i]} == --mapdir ]] && maps+=(--mapdir "${args[i + 1]}")
    done
    node --no-warnings fixtures/verify.mjs "$input" "$o" "${maps[@]}" >"$o.verify" 2>&1 && echo OK || echo FAIL
  else
    echo "-"
  fi
}

# --- machine ------------------------------------------------------------------------------
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
{
  echo "# wizer4j vs Rust Wizer ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(uname -sr)"
  echo "- JDK: $("$java_bin" -version 2>&1 | sed -n 2p)"
  echo "- JAVA_OPTS: ${JAVA_OPTS:-(none)}"
  echo "- Rust Wizer: $(node -p "require('$root/tools/rust-wizer/node_modules/@bytecodealliance/wizer/package.json').version" 2>/dev/null || echo "$WIZER")"
  echo "- wizer4j: $(git -C "$root" rev-parse --short HEAD 2>/dev/null)$(git -C "$root" diff --quiet HEAD -- wizer4j-core wizer4j-endive wizer4j-cli 2>/dev/null || echo ' (+ uncommitted changes)'), Endive $(sed -n 's:.*<endive.version>\(.*\)</endive.version>.*:\1:p' pom.xml)"
  echo "- runs: $WARMUP warm-up + $RUNS measured per tool and input, interleaved (ABBA order)"
  echo
} >"$OUT/results.md"

# --- main comparison ----------------------------------------------------------------------
table="$OUT/.table"
: >"$table"
for name in "${names[@]}"; do
  set_input "$name"
  if [[ ! -f $input ]]; then say "bench: $input is missing; skipped"; continue; fi
  say "bench: $name ($(size_of "$input") bytes) ${args[*]}"
  for ((i = 0; i < WARMUP; i++)); do
    run wizer4j "$name" wizer4j >/dev/null
    run wizer "$name" wizer >/dev/null
  done
  : >"$OUT/.w4j"
  : >"$OUT/.wz"
  for ((i = 0; i < RUNS; i++)); do
    # ABBA: each tool goes first as often as the other, so drift hits both alike.
    if ((i % 2 == 0)); then
      run wizer4j "$name" wizer4j >>"$OUT/.w4j"
      run wizer "$name" wizer >>"$OUT/.wz"
    else
      run wizer "$name" wizer >>"$OUT/.wz"
      run wizer4j "$name" wizer4j >>"$OUT/.w4j"
    fi
    say "  run $((i + 1)): wizer4j $(tail -n1 "$OUT/.w4j" | cut -d' ' -f1) ms, wizer $(tail -n1 "$OUT/.wz" | cut -d' ' -f1) ms"
  done
  row=("$name")
  for f in .w4j .wz; do
    if awk '$4 != 0 {bad=1} END{exit !bad}' "$OUT/$f"; then
      row+=(fail fail fail)
    else
      row+=("$(cut -d' ' -f1 "$OUT/$f" | median)" "$(cut -d' ' -f2 "$OUT/$f" | median)")
      row+=("$(cut -d' ' -f3 "$OUT/$f" | median)")
    fi
  done
  row+=("$(size_of "$OUT/$name.wizer4j.wasm")" "$(size_of "$OUT/$name.wizer.wasm")")
  row+=("$(verify "$name" "$OUT/$name.wizer4j.wasm")" "$(verify "$name" "$OUT/$name.wizer.wasm")")
  echo "${row[*]}" >>"$table"
done

{
  echo "## Wall time and peak RSS (medians of $RUNS runs)"
  echo
  echo "| input | wizer4j ms | Wizer ms | time ratio | wizer4j RSS MiB | Wizer RSS MiB | RSS ratio | wizer4j CPU s | Wizer CPU s | wizer4j out bytes | Wizer out bytes | output runs (w4j/Wizer) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
  # row: name w4j_ms w4j_kb w4j_cpu wz_ms wz_kb wz_cpu w4j_size wz_size w4j_ok wz_ok
  awk 'function r(a, b) { return (a+0>0 && b+0>0) ? sprintf("%.2f", a/b) : "-" }
       function ms(v) { return v+0>0 ? sprintf("%.0f", v) : v }
       function mib(v) { return v+0>0 ? sprintf("%.0f", v/1024) : v }
  {
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s/%s |\n", $1, ms($2), ms($5),
      r($2, $5), mib($3), mib($6), r($3, $6), $4, $7, $8, $9, $10, $11;
    if ($2+0>0 && $5+0>0) { s += log($2/$5); n++ }
  } END {
    if (n) printf "\nGeometric mean of the wall-time ratios (wizer4j/Wizer) over %d inputs: **%.2f**\n", n, exp(s/n)
  }' "$table"
  echo
} >>"$OUT/results.md"

# --- warm runs ----------------------------------------------------------------------------
# The same input wizened WARM times in one JVM (bench/WarmRun.java drives the CLI's entry point);
# the second and later runs are what a build server, the Maven plugin or a durable-execution host
# sees. Compared with Wizer's cold median from the table above.
if ((WARM >= 2)); then
  jar="$root/wizer4j-cli/target/wizer4j.jar"
  [[ $FREEZE == 1 ]] && jar="$OUT/w4j/wizer4j-cli/target/wizer4j.jar"
  jopts=()
  while IFS= read -r line || [[ -n $line ]]; do
    line="${line%%#*}"
    [[ $line == compiler:* ]] && continue # only for the compiler engine; see bin/jvm.options
    read -r -a words <<<"$line"
    jopts+=("${words[@]}")
  done <"$root/bin/jvm.options"
  warm="$OUT/.warm"
  : >"$warm"
  for name in "${names[@]}"; do
    set_input "$name"
    [[ -f $input ]] || continue
    say "bench: warm $name"
    log="$OUT/$name.warm.log"
    if env "${envs[@]}" timeout "$((TIMEOUT * WARM))" "$java_bin" "${jopts[@]}" ${JAVA_OPTS:-} -cp "$jar" \
      "$here/WarmRun.java" "$WARM" "${args[@]}" "$input" -o "$OUT/$name.warm.wasm" \
      <"$(stdin_of "$name")" >"$log" 2>&1; then
      first=$(awk '/^run 1:/ {print $3}' "$log")
      later=$(awk '/^run [0-9]+:/ && $2 != "1:" {print $3}' "$log" | median)
      same=$(cmp -s "$OUT/$name.warm.wasm" "$OUT/$name.wizer4j.wasm" && echo yes || echo no)
    else
      first=fail later=fail same=-
    fi
    wz=$(awk -v n="$name" '$1 == n {print $5}' "$table")
    echo "$name $first $later ${wz:--} $same" >>"$warm"
  done
  {
    echo "## Warm: the same input again in one JVM ($WARM runs each, bench/WarmRun.java)"
    echo
    echo "Run 1 is cold (it includes class loading and the JIT's warm-up, not JVM start);"
    echo "runs 2..$WARM are warm, their median is compared with Wizer's cold median above."
    echo
    echo "| input | run 1 ms | warm median ms | Wizer cold ms | warm/Wizer | output = cold CLI output |"
    echo "|---|---:|---:|---:|---:|---|"
    awk 'function ms(v) { return v+0>0 ? sprintf("%.0f", v) : v }
    { r = ($3+0>0 && $4+0>0) ? sprintf("%.2f", $3/$4) : "-";
      printf "| %s | %s | %s | %s | %s | %s |\n", $1, ms($2), ms($3), ms($4), r, $5;
      if (r != "-") { s += log($3/$4); n++ } }
    END { if (n) printf "\nGeometric mean of warm/Wizer over %d inputs: **%.2f**\n", n, exp(s/n) }' "$warm"
    echo
  } >>"$OUT/results.md"
fi

# --- engines and stage breakdown ----------------------------------------------------------
if [[ $ENGINES == 1 ]]; then
  eng="$OUT/.engines"
  : >"$eng"
  : >"$OUT/.stages"
  for name in "${names[@]}"; do
    set_input "$name"
    [[ -f $input ]] || continue
    line="$name"
    big=$(($(size_of "$input") > 4000000))
    for e in auto interpreter compiler-nocache compiler; do
      # compiler-nocache: a cold compile; compiler: the same with the disk cache, which the
      # cold run does not fill, so it is a miss for a module compiled nowhere else. Big modules
      # compile for a minute and would fill the cache with one entry: only measured cold.
      if [[ $e == compiler && $big == 1 ]]; then line+=" - -"; continue; fi
      local_args=(-v --engine "${e%-nocache}")
      [[ $e == *-nocache ]] && local_args+=(--no-cache)
      r=$(run wizer4j "$name" "$e" "${local_args[@]}")
      log="$OUT/$name.$e.log"
      if [[ $(cut -d' ' -f4 <<<"$r") != 0 ]]; then
        line+=" fail"
        say "bench: $name --engine $e failed: $(grep -m1 -E 'error|Exception' "$log" || tail -n1 "$log")"
      else
        line+=" $(cut -d' ' -f1 <<<"$r")"
      fi
      if [[ $e == auto ]]; then
        # Stage lines: "wizer4j: <stage> <ms> ms"; the total from "wrote ... in <ms> ms".
        stages=$(awk -v wall="$(cut -d' ' -f1 <<<"$r")" '
          /^wizer4j: wrote / { for (i=1;i<=NF;i++) if ($i=="in") tot=$(i+1) }
          /^wizer4j: parse and validate/ { pv=$(NF-1) }
          /^wizer4j: compile / { comp=$(NF-1) }
          /^wizer4j: instantiate/ { inst=$(NF-1) }
          /^wizer4j: call / { init+=$(NF-1) }
          /^wizer4j: snapshot/ { snap=$(NF-1) }
          /^wizer4j: rewrite/ { rw=$(NF-1) }
          END { other = tot-pv-comp-inst-init-snap-rw;
                printf "%.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f %.0f", wall, wall-tot, pv, comp, inst, init, snap, rw, other }' "$log")
        echo "$name $stages" >>"$OUT/.stages"
      fi
      line+=" $(size_of "$OUT/$name.$e.wasm")"
    done
    same=yes
    for e in interpreter compiler-nocache compiler; do
      [[ -f $OUT/$name.$e.wasm ]] || continue
      cmp -s "$OUT/$name.auto.wasm" "$OUT/$name.$e.wasm" || same=no
    done
    echo "$line $same" >>"$eng"
  done
  {
    echo "## wizer4j engines (one run each, with -v)"
    echo
    echo "compiler, cold: --no-cache (the whole compile); compiler, cached: a second run that"
    echo "reads the compiled classes from the disk cache (not run for modules over 4 MB)."
    echo "Same bytes: whether the outputs of all engines are byte-identical."
    echo
    echo "| input | auto ms | interpreter ms | compiler, cold ms | compiler, cached ms | cold compiler/interpreter | same bytes |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    # line: name auto size interp size cold size cached size
    awk 'function ms(v) { return v+0>0 ? sprintf("%.0f", v) : v }
         { r = ($4+0>0 && $6+0>0) ? sprintf("%.2f", $6/$4) : "-";
           printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, ms($2), ms($4), ms($6), ms($8), r, $10 }' "$eng"
    echo
    echo "## Where wizer4j's time goes (--engine auto, -v, ms)"
    echo
    echo "JVM+CLI start = wall time minus the CLI's own total (JVM start, class loading, option"
    echo "parsing; the CLI starts its clock after picocli has parsed the command line);"
    echo "other = reading the input, writing the output and what no stage covers."
    echo
    echo "| input | wall | JVM+CLI start | parse+validate | compile | instantiate | init | snapshot | rewrite | other |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1,$2,$3,$4,$5,$6,$7,$8,$9,$10 }' "$OUT/.stages"
    echo
  } >>"$OUT/results.md"
  rm -f "$OUT/.stages"
fi

rm -f "$OUT/.rss" "$OUT/.w4j" "$OUT/.wz"
cat "$OUT/results.md"
