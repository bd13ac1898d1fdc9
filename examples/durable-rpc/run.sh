#!/usr/bin/env bash
# Walks one durable task through its life, one JVM process per step, then checks the result
# against the same task run without interruption.
#
#   ./run.sh [N]     N: how many remote answers the task needs (default 5, at most 1000)
#
# Builds target/durable-rpc.jar with Maven on first use (or when a source changed). The task's
# store is target/demo-state/ (recreated on every run), for you to look at.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
jar="target/durable-rpc.jar"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
n="${1:-5}"
task=1
state="target/demo-state"

if [ -n "${1:-}" ] && ! [[ "$n" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [N]" >&2
  exit 2
fi

stale() {
  [ ! -f "$jar" ] && return 0
  [ -n "$(find "$root/pom.xml" "$root"/wizer4j-core "$root"/wizer4j-endive "$root"/wizer4j-durable "$here/pom.xml" \
      "$here/src/main" \( -name pom.xml -o -path '*/src/main/*' \) -newer "$jar" -type f \
      -print -quit 2>/dev/null)" ]
}

cd "$here"
if stale; then
  echo "building $jar ..."
  (cd "$root" && mvn -q -B -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true \
    package -pl examples/durable-rpc -am) || {
    echo "run.sh: build failed" >&2
    exit 1
  }
fi

# Every step is a fresh JVM: nothing survives between steps but the files in $state.
host() {
  echo "\$ durable-rpc $*" >&2
  "$java" -XX:TieredStopAtLevel=1 -jar "$jar" "$@"
}

rm -rf "$state"
host init guest.wasm "$state" >&2
out="$(host start "$state" "$task" "$n")"
echo "$out"
while [[ "$out" =~ waiting\ for\ request\ ([0-9]+) ]]; do
  k="${BASH_REMATCH[1]}"
  value=$((k * k + 7))  # the remote service, answered by this driver, never by the guest
  echo "  (the remote service answers request $k: f($k) = $k*$k + 7 = $value)"
  out="$(host respond "$state" "$task" "$k" "$value")"
  echo "$out"
  if [ "$k" = 2 ] && [[ "$out" =~ waiting ]]; then
    # Three answers in, the task is its first full state plus one delta per answer; compact
    # folds them into one full state (a step does that by itself once the deltas pass 512 bytes).
    host list "$state"
    host compact "$state" "$task"
  fi
done

if ! [[ "$out" =~ done,\ result\ (-?[0-9]+) ]]; then
  echo "run.sh: the task did not finish: $out" >&2
  exit 1
fi
durable="${BASH_REMATCH[1]}"

host list "$state"

out="$(host run-uninterrupted guest.wasm "$n")"
echo "$out"
uninterrupted="${out##* }"

echo
echo "suspended and resumed ($((n + 2)) processes): $durable"
echo "uninterrupted (one process):         $uninterrupted"
if [ "$durable" != "$uninterrupted" ]; then
  echo "MISMATCH" >&2
  exit 1
fi
echo "same result"
