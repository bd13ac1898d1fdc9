#!/usr/bin/env bash
# Builds this example against the wizer4j-maven-plugin of this checkout, as an outside project
# would use it, and checks the plugin's up-to-date logic across three builds:
#   1. a fresh build runs `wizen`, Endive's compiler and the test against the jar;
#   2. the same build again skips `wizen` (the log says so);
#   3. a changed parameter (keepInitFunc) runs it again, and the test sees the changed output.
# The plugin is installed into a local repository of its own (target/example-m2 at the root of
# the checkout), never into ~/.m2; artifacts already in ~/.m2 are read from there (as a file://
# repository) before Maven Central, so a warm machine builds offline-fast.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
repo="$root/target/example-m2"
work="$root/target/example-maven-plugin"
settings="$root/target/example-settings.xml"
log="$root/target/example-maven-plugin.log"
mkdir -p "$root/target"

seed="${HOME}/.m2/repository"
cat > "$settings" <<XML
<settings>
  <profiles>
    <profile>
      <id>seed</id>
      <repositories>
        <repository>
          <id>seed</id><url>file://$seed</url>
          <snapshots><enabled>false</enabled></snapshots>
        </repository>
      </repositories>
      <pluginRepositories>
        <pluginRepository>
          <id>seed</id><url>file://$seed</url>
          <snapshots><enabled>false</enabled></snapshots>
        </pluginRepository>
      </pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>seed</activeProfile></activeProfiles>
</settings>
XML
mvn_() { mvn -B -Dstyle.color=never -s "$settings" -Dmaven.repo.local="$repo" "$@"; }

echo "example: installing wizer4j-maven-plugin from this checkout into $repo"
mvn_ -q -f "$root/pom.xml" -pl wizer4j-maven-plugin -am install \
  -DskipTests -Dspotless.skip=true -Dmaven.javadoc.skip=true -Dmaven.source.skip=true

# A fresh copy, so no stamp or output of an earlier build counts.
rm -rf "$work"
mkdir -p "$work"
cp -r "$here/pom.xml" "$here/src" "$work/"

build() { # build N [maven args...]: runs `mvn verify`, keeps the log
  local n="$1"; shift
  echo "example: build $n: mvn verify $*"
  if ! mvn_ -f "$work/pom.xml" verify "$@" > "$log.$n" 2>&1; then
    tail -60 "$log.$n"; echo "example: build $n failed (log: $log.$n)" >&2; exit 1
  fi
}
expect() { # expect N PATTERN WHAT
  grep -q -- "$2" "$log.$1" || { tail -60 "$log.$1"; echo "example: build $1: $3" >&2; exit 1; }
}
refuse() { # refuse N PATTERN WHAT
  ! grep -q -- "$2" "$log.$1" || { tail -60 "$log.$1"; echo "example: build $1: $3" >&2; exit 1; }
}

build 1
expect 1 "wizer4j: pre-initialized src/main/wasm/primes.wasm" "wizen did not run"
expect 1 "Tests run: 2, Failures: 0, Errors: 0, Skipped: 0" "the test against the jar did not run"

build 2
expect 2 "wizer4j: target/generated-resources/wizer4j/primes.wasm is up to date; skipping" \
  "nothing changed, yet wizen did not say it skipped"
refuse 2 "wizer4j: pre-initialized" "nothing changed, yet wizen ran again"
expect 2 "Tests run: 2, Failures: 0, Errors: 0, Skipped: 0" "the test did not run"

build 3 -Dexample.keepInitFunc=true
expect 3 "wizer4j: pre-initialized src/main/wasm/primes.wasm" "a changed parameter did not run wizen"
expect 3 "Tests run: 2, Failures: 0, Errors: 0, Skipped: 0" "the test did not run"

echo "example: OK (wizen ran, skipped when up to date, ran again after a change; the jar's module holds the state)"
