#!/usr/bin/env bash
# Black-box comparison of a Wizer-compatible tool against Rust Wizer.
#
# For every module of the corpus, both tools pre-initialise the same input
# with the same flags, and compare.mjs decides whether the two outputs are
# semantically equal. Modules under fixtures/wat/reject/ must be rejected by
# both tools.
#
# Usage: tools/wizer-compare/run.sh [NAME-SUBSTRING...]
#   With arguments, only modules whose name contains one of them are run.
#
# Environment:
#   WIZER4J    tool under test (default: bin/wizer4j in the repository root)
#   WIZER      reference tool (default: Rust Wizer 11.0.3 from
#              tools/rust-wizer, installed with npm on first use)
#   WAT2WASM   wabt's wat2wasm (default: wat2wasm on PATH)
#   WORK_DIR   where inputs, outputs and logs are kept (default: a new
#              temporary directory, printed at the end)
#   TIMEOUT    seconds allowed per tool run (default: 300)
#
# Paths inside .args files are relative to the repository root, which is
# the working directory for all tool runs.
#
# Exit status: 0 if every module passed, 1 otherwise.
set -uo pipefail   # no -e: failing tool runs are results, not script errors

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# Tool paths given relative to the caller's directory must survive the cd
# below; bare command names are looked up on PATH.
absolute_tool() {
    case "$1" in
        "") ;;
        /*) echo "$1" ;;
        */*) echo "$PWD/$1" ;;
        *) command -v "$1" || echo "$1" ;;
    esac
}
WIZER4J="$(absolute_tool "${WIZER4J:-$root/bin/wizer4j}")"
WIZER="$(absolute_tool "${WIZER:-}")"
cd "$root"

TIMEOUT="${TIMEOUT:-300}"
WORK_DIR="${WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/wizer-compare.XXXXXX")}"
mkdir -p "$WORK_DIR"

# --- reference tool ----------------------------------------------------------

# The repository's one pinned Rust Wizer (tools/rust-wizer, shared with bench/), installed
# with npm on first use; its native binary is called directly.
if [[ -z "${WIZER:-}" ]]; then
    WIZER="$("$root/tools/rust-wizer/wizer-path.sh")" || {
        echo "error: installing Rust Wizer failed; set WIZER to a wizer binary instead" >&2
        exit 2
    }
fi
if [[ ! -x "$WIZER" ]]; then
    echo "error: Rust Wizer not found (WIZER=$WIZER)" >&2
    exit 2
fi
if ! command -v "${WAT2WASM:-wat2wasm}" >/dev/null; then
    echo "error: wat2wasm (wabt) not found; set WAT2WASM" >&2
    exit 2
fi

# --- helpers -------------------------------------------------------------------

passed=0
failed=0
filters=("$@")

selected() {   # selected NAME -> true if NAME matches the command-line filters
    local f
    [[ ${#filters[@]} -eq 0 ]] && return 0
    for f in "${filters[@]}"; do
        [[ "$1" == *"$f"* ]] && return 0
    done
    return 1
}

read_args() {   # read_args FILE -> the flags in the sidecar, or nothing
    if [[ -f "$1" ]]; then
        # One line of flags; comments and blank lines are not supported.
        head -n 1 "$1"
    fi
}

file_size() {
    if [[ -f "$1" ]]; then stat -c %s "$1"; else echo "-"; fi
}

# The first meaningful line of a tool's error output, for the table.
first_error_line() {
    grep -v -e '^[[:space:]]*$' -e '^Stack backtrace' "$1" 2>/dev/null | head -n 1 | cut -c 1-100
}

row() {   # row MODULE SIZE_A SIZE_B RATIO VERDICT
    printf '%-42s %10s %10s %7s  %s\n' "$@"
}

record() {   # record pass|fail
    if [[ "$1" == pass ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# run_tool LABEL TOOL ARGS INPUT OUTPUT LOG -> exit status of the tool
run_tool() {
    local tool="$2" args="$3" input="$4" output="$5" log="$6"
    rm -f "$output"
    # shellcheck disable=SC2086  # the flags are meant to be word-split
    timeout "$TIMEOUT" "$tool" $args "$input" -o "$output" >"$log" 2>&1
}

# File names in WORK_DIR: the module's display name with '/' replaced.
stem() { echo "$WORK_DIR/${1//\//_}"; }

# compare_module NAME INPUT ARGS
compare_module() {
    local name="$1" input="$2" args="$3"
    local s; s="$(stem "$name")"
    local a="$s.wizer.wasm" b="$s.wizer4j.wasm" cmp="$s.compare.txt"

    if ! run_tool wizer "$WIZER" "$args" "$input" "$a" "$s.wizer.log"; then
        row "$name" "-" "-" "-" "FAIL: Rust Wizer failed: $(first_error_line "$s.wizer.log")"
        record fail
        return
    fi
    if [[ ! -x "$WIZER4J" ]]; then
        row "$name" "$(file_size "$a")" "-" "-" "FAIL: wizer4j not found ($WIZER4J)"
        record fail
        return
    fi
    if ! run_tool wizer4j "$WIZER4J" "$args" "$input" "$b" "$s.wizer4j.log"; then
        row "$name" "$(file_size "$a")" "-" "-" "FAIL: wizer4j failed: $(first_error_line "$s.wizer4j.log")"
        record fail
        return
    fi
    if [[ ! -s "$b" ]]; then
        row "$name" "$(file_size "$a")" "-" "-" "FAIL: wizer4j wrote no output"
        record fail
        return
    fi

    node "$here/compare.mjs" "$a" "$b" >"$cmp" 2>&1
    local status=$?
    local ratio verdict
    ratio="$(sed -n 's/^sizes: .*ratio(B\/A)=//p' "$cmp")"
    verdict="$(tail -n 1 "$cmp")"
    if [[ $status -eq 0 ]]; then
        row "$name" "$(file_size "$a")" "$(file_size "$b")" "${ratio:--}" "ok"
        record pass
    else
        row "$name" "$(file_size "$a")" "$(file_size "$b")" "${ratio:--}" "FAIL: $verdict"
        record fail
    fi
}

# check_reject NAME INPUT ARGS EXPECT
check_reject() {
    local name="$1" input="$2" args="$3" expect="$4"
    local s; s="$(stem "$name")"
    local a="$s.wizer.wasm" b="$s.wizer4j.wasm" la="$s.wizer.log" lb="$s.wizer4j.log"

    if run_tool wizer "$WIZER" "$args" "$input" "$a" "$la"; then
        row "$name" "-" "-" "-" "FAIL: Rust Wizer accepted a module of the reject corpus"
        record fail
        return
    fi
    if [[ -n "$expect" ]] && ! grep -qF -- "$expect" "$la"; then
        row "$name" "-" "-" "-" "FAIL: Rust Wizer's error lacks \"$expect\": $(first_error_line "$la")"
        record fail
        return
    fi
    if [[ ! -x "$WIZER4J" ]]; then
        row "$name" "-" "-" "-" "FAIL: wizer4j not found ($WIZER4J)"
        record fail
        return
    fi
    if run_tool wizer4j "$WIZER4J" "$args" "$input" "$b" "$lb"; then
        row "$name" "-" "$(file_size "$b")" "-" "FAIL: wizer4j accepted it (Rust Wizer: $(first_error_line "$la"))"
        record fail
        return
    fi
    # Both failed. A matching message is nice to have but not required: the
    # wording of errors is not part of compatibility.
    local note=""
    if [[ -n "$expect" ]] && ! grep -qF -- "$expect" "$lb"; then
        note=" (wizer4j says: $(first_error_line "$lb"))"
    fi
    row "$name" "-" "-" "-" "ok, both reject$note"
    record pass
}

# --- the corpus ----------------------------------------------------------------

echo "reference: $WIZER"
echo "tested:    $WIZER4J"
echo

# Let the tool under test do any one-time set-up (e.g. building itself) now,
# outside the per-module time limit. Its result does not matter here.
if [[ -x "$WIZER4J" ]]; then
    timeout 1800 "$WIZER4J" --help >/dev/null 2>&1 || true
fi

row "module" "wizer" "wizer4j" "ratio" "verdict"
row "------" "-----" "-------" "-----" "-------"

shopt -s nullglob

# assemble NAME WAT -> converts WAT into "$(stem NAME).input.wasm"
assemble() {
    local s; s="$(stem "$1")"
    if ! node "$here/wat2wasm.mjs" "$2" "$s.input.wasm" >"$s.wat2wasm.log" 2>&1; then
        row "$1" "-" "-" "-" "FAIL: wat2wasm: $(first_error_line "$s.wat2wasm.log")"
        record fail
        return 1
    fi
}

for wat in fixtures/wat/*.wat; do
    name="wat/$(basename "$wat" .wat)"
    selected "$name" || continue
    assemble "$name" "$wat" || continue
    compare_module "$name" "$(stem "$name").input.wasm" "$(read_args "${wat%.wat}.args")"
done

for wasm in fixtures/wasm/*.wasm; do
    name="wasm/$(basename "$wasm" .wasm)"
    selected "$name" || continue
    compare_module "$name" "$wasm" "$(read_args "${wasm%.wasm}.args")"
done

for wat in fixtures/wat/reject/*.wat; do
    name="reject/$(basename "$wat" .wat)"
    selected "$name" || continue
    assemble "$name" "$wat" || continue
    expect=""
    [[ -f "${wat%.wat}.expect" ]] && expect="$(head -n 1 "${wat%.wat}.expect")"
    check_reject "$name" "$(stem "$name").input.wasm" "$(read_args "${wat%.wat}.args")" "$expect"
done

echo
echo "outputs and logs: $WORK_DIR"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
