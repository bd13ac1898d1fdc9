package dev.wizer4j.cli;

import static dev.wizer4j.cli.Cli.assertFails;
import static dev.wizer4j.cli.Cli.assertNoTemporaries;
import static dev.wizer4j.cli.Cli.assertSucceeds;
import static dev.wizer4j.cli.Cli.assertUnchanged;
import static dev.wizer4j.cli.Cli.assertValid;
import static dev.wizer4j.cli.Cli.read;
import static dev.wizer4j.cli.Cli.runProcess;
import static dev.wizer4j.cli.Cli.wat;
import static dev.wizer4j.cli.Cli.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.cli.Cli.Result;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A handful of runs in a fresh JVM, as a user runs the tool: real stdin, stdout, stderr, exit
 * status and files. Everything else is checked in process (CliSuccessTest, CliFailureTest).
 */
class CliProcessTest {
  @TempDir Path dir;

  /** Prints "hello from init" through WASI during initialization, and counts in a global. */
  static final String CHATTY =
      """
      (module
        (import "wasi_snapshot_preview1" "fd_write"
          (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (memory 1)
        (data (i32.const 64) "hello from init\\n")
        (global $n (mut i32) (i32.const 0))
        (func (export "wizer-initialize")
          (i32.store (i32.const 0) (i32.const 64))
          (i32.store (i32.const 4) (i32.const 16))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
          (global.set $n (i32.const 5)))
        (func (export "n") (result i32) (global.get $n)))
      """;

  @Test
  void fileToFileAndDeterministic() {
    byte[] hello = read(CliSuccessTest.examplesDir().resolve("hello.wasm"));
    write(dir, "hello.wasm", hello);
    Result first = assertSucceeds(runProcess(dir, null, "hello.wasm", "-o", "a.wasm"));
    assertEquals("", first.stderr());
    assertEquals(0, first.stdout().length);
    Result second = assertSucceeds(runProcess(dir, null, "hello.wasm", "-o", "b.wasm"));
    assertEquals("", second.stderr());
    byte[] a = read(dir.resolve("a.wasm"));
    assertValid(a);
    assertFalse(Arrays.equals(hello, a), "the output differs from the input");
    assertArrayEquals(a, read(dir.resolve("b.wasm")), "two runs give identical bytes");
    assertNoTemporaries(dir);
  }

  @Test
  void stdinToStdoutKeepsGuestOutputOffStdout() {
    byte[] wasm = wat(CHATTY);
    Result r = assertSucceeds(runProcess(dir, wasm, "--allow-wasi"));
    assertValid(r.stdout());
    assertEquals(0, r.stdout()[0], "stdout holds the module and nothing else");
    assertEquals('a', r.stdout()[1]);
    assertTrue(r.stderr().contains("hello from init"), r::describe);

    Result quiet =
        assertSucceeds(runProcess(dir, wasm, "--allow-wasi", "--inherit-stdio=false", "-"));
    assertEquals("", quiet.stderr(), "with --inherit-stdio=false the guest's output goes nowhere");
    assertArrayEquals(r.stdout(), quiet.stdout(), "inheriting stdio does not change the result");
  }

  @Test
  void withAnOutputFileTheGuestKeepsTheRealStdout() {
    write(dir, "chatty.wasm", wat(CHATTY));
    Result r = assertSucceeds(runProcess(dir, null, "--allow-wasi", "chatty.wasm", "-o", "o.wasm"));
    assertTrue(
        new String(r.stdout(), StandardCharsets.UTF_8).contains("hello from init"), r::describe);
    assertEquals("", r.stderr());
    assertValid(read(dir.resolve("o.wasm")));
  }

  @Test
  void failureLeavesTheExistingOutputAlone() {
    byte[] wasm = wat("(module (func (export \"wizer-initialize\") unreachable))");
    write(dir, "in.wasm", wasm);
    byte[] precious = "keep me".getBytes(StandardCharsets.UTF_8);
    write(dir, "out.wasm", precious);
    Result r = runProcess(dir, null, "in.wasm", "-o", "out.wasm");
    assertFails(r, 1, "unreachable");
    assertEquals(1, r.stderr().lines().count(), r::describe);
    assertUnchanged(dir.resolve("out.wasm"), precious);
    assertNoTemporaries(dir);

    Result missing = runProcess(dir, null, "nope.wasm", "-o", "new.wasm");
    assertFails(missing, 1, "nope.wasm");
    assertFalse(Files.exists(dir.resolve("new.wasm")));
  }

  @Test
  void usageErrorExitsWithTwo() {
    Result r = runProcess(dir, null, "--rename-func", "nonsense", "in.wasm");
    assertFails(r, 2, "'nonsense'");
    Result unknown = runProcess(dir, null, "--frobnicate");
    assertFails(unknown, 2, "--frobnicate");
  }

  @Test
  void helpAndVersion() {
    Result help = runProcess(dir, null, "--help");
    assertEquals(0, help.exit(), help::describe);
    String text = new String(help.stdout(), StandardCharsets.UTF_8);
    assertTrue(text.startsWith("Usage: wizer4j"), text);
    Result version = runProcess(dir, null, "--version");
    assertEquals(0, version.exit(), version::describe);
    assertTrue(new String(version.stdout(), StandardCharsets.UTF_8).startsWith("wizer4j "));
  }

  @Test
  void outOfMemoryIsOneLineNotAStackTrace() {
    // 30,000 pages is a valid wasm32 memory (1.9 GiB); with a small heap the JVM cannot hold it.
    byte[] wasm =
        wat(
            "(module (memory 30000) (func (export \"wizer-initialize\")"
                + " (i32.store (i32.const 0) (i32.const 1))))");
    write(dir, "big.wasm", wasm);
    Result r = runProcess(dir, null, List.of("-Xmx128m"), "big.wasm", "-o", "big.out.wasm");
    assertFails(r, 1, "out of memory");
    assertFalse(Files.exists(dir.resolve("big.out.wasm")));
    assertNoTemporaries(dir);
  }
}
