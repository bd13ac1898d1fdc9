package dev.wizer4j.cli;

import static dev.wizer4j.cli.Cli.assertFails;
import static dev.wizer4j.cli.Cli.assertNoTemporaries;
import static dev.wizer4j.cli.Cli.assertUnchanged;
import static dev.wizer4j.cli.Cli.read;
import static dev.wizer4j.cli.Cli.run;
import static dev.wizer4j.cli.Cli.wat;
import static dev.wizer4j.cli.Cli.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.cli.Cli.Result;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every failure: a status in 1..125 (2 for a bad command line), one {@code error:} line naming the
 * problem, no stack trace, and no output: neither a new file nor a change to an existing one.
 */
class CliFailureTest {
  static final String GOOD =
      """
      (module
        (memory 1)
        (global $g (mut i32) (i32.const 0))
        (func (export "wizer-initialize") (global.set $g (i32.const 1)))
        (func (export "get") (result i32) (global.get $g))
        (func (export "also") (result i32) (i32.const 2)))
      """;

  /** The bytes an existing output file holds before a failing run; they must survive it. */
  static final byte[] PRECIOUS = "precious bytes, not a module\n".getBytes(StandardCharsets.UTF_8);

  static byte[] good;

  @TempDir Path dir;

  @BeforeAll
  static void compile() {
    good = wat(GOOD);
  }

  /**
   * Runs {@code args} twice, with {@code -o} naming a new file and then an existing one, and checks
   * the failure contract both times. Returns the error line.
   */
  String assertRejected(int exit, List<String> messageParts, String... args) {
    Path fresh = dir.resolve("fresh-out.wasm");
    String line = assertFails(run(with(args, "-o", fresh.toString())), exit, parts(messageParts));
    assertFalse(Files.exists(fresh), "a failed run must not create " + fresh);
    assertNoTemporaries(dir);

    Path existing = write(dir, "existing-out.wasm", PRECIOUS);
    String again =
        assertFails(run(with(args, "-o", existing.toString())), exit, parts(messageParts));
    assertUnchanged(existing, PRECIOUS);
    assertNoTemporaries(dir);
    assertEquals(
        line.replace(fresh.toString(), "OUT"),
        again.replace(existing.toString(), "OUT"),
        "the output path must not change the message");

    // The same failure with the module going to stdout prints nothing there.
    assertFails(run(args), exit, parts(messageParts));
    return line;
  }

  String assertRejected(String messagePart, byte[] wasm, String... options) {
    Path in = write(dir, "input.wasm", wasm);
    return assertRejected(0, List.of(messagePart), with(options, in.toString()));
  }

  static String[] parts(List<String> parts) {
    return parts.toArray(String[]::new);
  }

  static String[] with(String[] args, String... more) {
    List<String> all = new ArrayList<>(Arrays.asList(args));
    all.addAll(Arrays.asList(more));
    return all.toArray(String[]::new);
  }

  @Test
  void missingInputFile() {
    Path missing = dir.resolve("no-such-input.wasm");
    String line =
        assertRejected(1, List.of("no-such-input.wasm", "no such file"), missing.toString());
    assertTrue(line.startsWith("error: "), line);
  }

  @Test
  void inputIsADirectory() {
    assertRejected(1, List.of("cannot read input", dir.toString()), dir.toString());
  }

  @Test
  void inputNotWasm() {
    assertRejected("not a WebAssembly module", "hello, world\n".getBytes(StandardCharsets.UTF_8));
    assertRejected("magic number", "GIF89a, not wasm at all".getBytes(StandardCharsets.UTF_8));
    assertRejected("not a WebAssembly module", new byte[0]);
  }

  @Test
  void badWatInput() {
    assertRejected(
        "cannot convert WAT",
        "(module (func (export \"x\") (i32.bogus)))".getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void badWatInputIsReportedOnOneLineOfStderr() throws Exception {
    // wat2wasm prints the offending source line and a caret under it; none of that may follow.
    Path in = dir.resolve("bad.wat");
    Files.writeString(in, "(module\n  (func (export \"x\")\n    (i32.bogus)))\n");
    Cli.Result r = run(in.toString(), "-o", dir.resolve("out.wasm").toString());
    assertEquals(1, r.exit(), r::describe);
    assertEquals(1, r.stderr().strip().lines().count(), r::describe);
    assertTrue(r.stderr().startsWith("error: cannot convert WAT " + in + ":"), r::describe);
  }

  @Test
  void truncatedModule() {
    byte[] cut = Arrays.copyOf(good, good.length - 5);
    String line = assertRejected("offset 0x", cut);
    assertTrue(line.contains("end") || line.contains("past"), line);
  }

  @Test
  void componentIsNotACoreModule() {
    byte[] component = {0, 'a', 's', 'm', 0x0d, 0, 1, 0};
    assertRejected("component", component);
  }

  @Test
  void initExportMissing() {
    assertRejected("`wizer-initialize`", wat("(module (memory 1))"));
    assertRejected("`nope`", good, "-f", "nope");
  }

  @Test
  void initIsNotAFunction() {
    String line =
        assertRejected("not a function", wat("(module (memory (export \"wizer-initialize\") 1))"));
    assertTrue(line.contains("memory"), line);
  }

  @Test
  void initHasTheWrongType() {
    assertRejected("`get`", good, "-f", "get");
    assertRejected("[] -> []", wat("(module (func (export \"wizer-initialize\") (param i32)))"));
  }

  @Test
  void initTraps() {
    String line =
        assertRejected(
            "unreachable", wat("(module (func (export \"wizer-initialize\") unreachable))"));
    assertTrue(line.contains("wizer-initialize"), line);
    assertRejected(
            "divide by zero",
            wat(
                "(module (global $g (mut i32) (i32.const 0)) (func (export \"wizer-initialize\")"
                    + " (global.set $g (i32.div_u (i32.const 1) (global.get $g)))))"))
        .length();
  }

  @Test
  void startFunctionTraps() {
    assertRejected(
        "start",
        wat("(module (func $s unreachable) (start $s) (func (export \"wizer-initialize\")))"));
  }

  @Test
  void initRecursesForever() {
    assertRejected("stack", wat("(module (func $f (export \"wizer-initialize\") (call $f)))"));
  }

  @Test
  void initCallsAnImportNobodyProvides() {
    byte[] wasm =
        wat(
            """
            (module
              (import "env" "host_thing" (func $h))
              (func (export "wizer-initialize") (call $h)))
            """);
    assertRejected("env.host_thing", wasm);
    // A WASI import without --allow-wasi says how to allow it.
    byte[] wasi =
        wat(
            """
            (module
              (import "wasi_snapshot_preview1" "random_get" (func $r (param i32 i32) (result i32)))
              (memory 1)
              (func (export "wizer-initialize") (drop (call $r (i32.const 0) (i32.const 4)))))
            """);
    String line = assertRejected("wasi_snapshot_preview1.random_get", wasi);
    assertTrue(line.contains("--allow-wasi"), line);
  }

  @Test
  void importedMemory() {
    assertRejected(
        "env.mem",
        wat("(module (import \"env\" \"mem\" (memory 1)) (func (export \"wizer-initialize\")))"));
  }

  @Test
  void importedGlobalAndTable() {
    assertRejected(
        "env.g",
        wat("(module (import \"env\" \"g\" (global i32)) (func (export \"wizer-initialize\")))"));
    assertRejected(
        "env.t",
        wat(
            "(module (import \"env\" \"t\" (table 1 funcref)) (func (export"
                + " \"wizer-initialize\")))"));
  }

  @Test
  void tableSetAnywhereInTheCode() {
    byte[] wasm =
        wat(
            """
            (module
              (table 1 funcref)
              (func (export "wizer-initialize"))
              (func (export "later") (table.set 0 (i32.const 0) (ref.null func))))
            """);
    assertRejected("`table.set`", wasm);
  }

  @Test
  void dataDropAnywhereInTheCode() {
    byte[] wasm =
        wat(
            """
            (module
              (memory 1)
              (data $d "x")
              (func (export "wizer-initialize"))
              (func (export "later") (data.drop $d)))
            """);
    assertRejected("`data.drop`", wasm);
  }

  @Test
  void invalidFunctionBody() {
    // Well-formed but ill-typed: i32.add on an empty stack. wat2wasm --no-check lets it through.
    byte[] wasm = wat("(module (func (export \"wizer-initialize\") (drop (i32.add))))");
    assertRejected("validation", wasm);
  }

  @Test
  void initExportIndexOutOfRange() {
    // Malformed input: the init export names function 3 of 1. It must be reported as an invalid
    // module, not as an internal error.
    byte[] wasm = wat("(module (func) (export \"wizer-initialize\" (func 3)))");
    String line = assertRejected("3", wasm);
    assertFalse(line.contains("internal error"), line);
  }

  @Test
  void memoryExportIndexOutOfRange() {
    byte[] wasm = wat("(module (func (export \"wizer-initialize\")) (export \"m\" (memory 1)))");
    String line = assertRejected("memory", wasm);
    assertFalse(line.contains("run.endive."), () -> "a Java object leaked into: " + line);
  }

  @Test
  void duplicateRenameDestination() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(2, List.of("`a`", "dst"), "-r", "a=get", "-r", "a=also", in.toString());
  }

  @Test
  void duplicateRenameSource() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(2, List.of("`get`", "src"), "-r", "a=get", "-r", "b=get", in.toString());
  }

  @Test
  void renameWithoutEquals() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(2, List.of("'noequals'", "DST=SRC"), "-r", "noequals", in.toString());
    assertRejected(2, List.of("'=get'"), "--rename-func", "=get", in.toString());
    assertRejected(2, List.of("'a='"), "--rename-func", "a=", in.toString());
  }

  @Test
  void badPreloadSyntax() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(2, List.of("'nofile'", "NAME=FILE"), "--preload", "nofile", in.toString());
    assertRejected(2, List.of("'=x.wasm'", "NAME=FILE"), "--preload", "=x.wasm", in.toString());
    assertRejected(2, List.of("'lib='", "NAME=FILE"), "--preload", "lib=", in.toString());
  }

  /** Every malformed option value: status 2 and one line, as Wizer (clap) words it. */
  @Test
  void malformedValuesShareOneStyle() {
    Path in = write(dir, "input.wasm", good);
    String[][] cases = {
      {"-r", "noequals", "'--rename-func <DST=SRC>': must be two non-empty parts joined by '='"},
      {"--preload", "lib=", "'--preload <NAME=FILE>': must be two non-empty parts joined by '='"},
      {
        "--mapdir", "/g", "'--mapdir <GUEST::HOST>': must be two non-empty parts joined by one '::'"
      },
      {
        "--dir",
        "a::b::c",
        "'--dir <DIR|HOST::GUEST>': must be a directory, or two non-empty parts joined by one '::'"
      },
      {"--dir", "", "'--dir <DIR|HOST::GUEST>': must not be empty"},
      {"--env", "=x", "'--env <NAME[=VALUE]>': the name must not be empty"},
      {
        "--engine",
        "turbo",
        "'--engine <auto|interpreter|compiler>': expected auto, interpreter or compiler"
      },
      {"--init-func", "", "'--init-func <NAME>': must not be empty"},
    };
    for (String[] c : cases) {
      Result r = run("--allow-wasi", c[0], c[1], in.toString());
      String line = assertFails(r, 2);
      assertEquals("error: invalid value '" + c[1] + "' for " + c[2], line);
      assertEquals(1, r.stderr().lines().count(), r::describe);
    }
  }

  @Test
  void usageErrorsComeBeforeAnyPreloadIsRead() {
    Path in = write(dir, "input.wasm", good);
    String missing = "lib=" + dir.resolve("no-such-lib.wasm");
    assertRejected(
        2, List.of("'a::b::c'"), "--preload", missing, "--dir", "a::b::c", in.toString());
    assertRejected(
        2,
        List.of("`a`", "dst"),
        "--preload",
        missing,
        "-r",
        "a=get",
        "-r",
        "a=also",
        in.toString());
  }

  @Test
  void preloadFileMissing() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(
        1,
        List.of("no-such-lib.wasm", "no such file"),
        "--preload",
        "lib=no-such-lib.wasm",
        in.toString());
  }

  @Test
  void mapdirToAMissingHostDirectory() {
    Path in = write(dir, "input.wasm", good);
    Path gone = dir.resolve("no-such-dir");
    assertRejected(
        1,
        List.of(gone.toString(), "does not exist"),
        "--allow-wasi",
        "--mapdir",
        "/guest::" + gone,
        in.toString());
    assertRejected(
        1,
        List.of(gone.toString(), "does not exist"),
        "--allow-wasi",
        "--dir",
        gone.toString(),
        in.toString());
  }

  @Test
  void mapdirWithoutSeparator() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(
        2, List.of("GUEST::HOST"), "--allow-wasi", "--mapdir", dir.toString(), in.toString());
  }

  @Test
  void instrumentedInputWithoutTheFlag() {
    Path in = write(dir, "input.wasm", good);
    Path inst = dir.resolve("inst.wasm");
    Cli.assertSucceeds(
        run("--keep-instrumentation", "--keep-init-func", in.toString(), "-o", inst.toString()));
    String line = assertRejected("--instrumented", read(inst));
    assertTrue(line.contains("__wizer_"), line);
  }

  @Test
  void instrumentedFlagOnAPlainModule() {
    assertRejected("__wizer_global_0", good, "--instrumented");
  }

  @Test
  void wizerNamedExportInInput() {
    assertRejected(
        "__wizer_",
        wat("(module (func (export \"wizer-initialize\")) (func (export \"__wizer_x\")))"));
  }

  @Test
  void unknownOptionAndBadEngine() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(2, List.of("--no-such-option"), "--no-such-option", in.toString());
    assertRejected(2, List.of("'turbo'", "--engine"), "--engine", "turbo", in.toString());
    assertRejected(2, List.of("'maybe'"), "--keep-init-func=maybe", in.toString());
    assertRejected(2, List.of("--init-func"), in.toString(), "-f");
    assertRejected(2, List.of("--init-func"), "-f", "", in.toString());
  }

  @Test
  void repeatedSingleValuedOptionLikeWizer() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(
        2, List.of("--wasm-simd", "once"), "--wasm-simd", "--wasm-simd=false", in.toString());
    assertRejected(2, List.of("--init-func", "once"), "-f", "a", "-f", "b", in.toString());
  }

  @Test
  void tooManyInputs() {
    Path in = write(dir, "input.wasm", good);
    assertRejected(2, List.of("extra.wasm"), in.toString(), "extra.wasm");
  }

  @Test
  void outputDirectoryMissing() {
    Path in = write(dir, "input.wasm", good);
    Path out = dir.resolve("no-such-dir").resolve("out.wasm");
    Result r = run(in.toString(), "-o", out.toString());
    String line = assertFails(r, 1, "no-such-dir", "does not exist");
    assertTrue(line.contains("cannot write"), line);
    assertFalse(Files.exists(out.getParent()), "the directory is not created");
    assertNoTemporaries(dir);
  }

  @Test
  void outputIsADirectory() throws IOException {
    Path in = write(dir, "input.wasm", good);
    Path out = Files.createDirectory(dir.resolve("outdir"));
    write(out, "keep.txt", PRECIOUS);
    String line = assertFails(run(in.toString(), "-o", out.toString()), 1, "outdir", "directory");
    assertFalse(line.contains(".tmp"), () -> "the message names a temporary file: " + line);
    assertTrue(Files.isDirectory(out));
    assertUnchanged(out.resolve("keep.txt"), PRECIOUS);
    assertNoTemporaries(dir);

    Path empty = Files.createDirectory(dir.resolve("emptydir"));
    assertFails(run(in.toString(), "-o", empty.toString()), 1, "emptydir", "directory");
    assertTrue(Files.isDirectory(empty), "an empty directory is not replaced by the output");
    assertNoTemporaries(dir);
  }

  @Test
  void stackTraceOnlyWhenAsked() {
    Path in = write(dir, "input.wasm", good);
    Result quiet = run("-f", "nope", in.toString());
    assertFails(quiet, 1, "`nope`");
    Result loud = run("--stack-trace", "-f", "nope", in.toString());
    assertEquals(1, loud.exit());
    assertEquals(1, loud.errorLines().size(), loud::describe);
    assertTrue(loud.errorLines().get(0).contains("`nope`"), loud::describe);
    assertTrue(loud.stderr().contains("\tat dev.wizer4j."), loud::describe);
  }
}
