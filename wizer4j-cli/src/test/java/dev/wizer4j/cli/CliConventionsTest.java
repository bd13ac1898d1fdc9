package dev.wizer4j.cli;

import static dev.wizer4j.cli.Cli.assertFails;
import static dev.wizer4j.cli.Cli.assertSucceeds;
import static dev.wizer4j.cli.Cli.assertValid;
import static dev.wizer4j.cli.Cli.instantiate;
import static dev.wizer4j.cli.Cli.run;
import static dev.wizer4j.cli.Cli.wat;
import static dev.wizer4j.cli.Cli.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.cli.Cli.Result;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import run.endive.runtime.Instance;

/**
 * The conventions tools and users expect of the command line: version, progress heartbeat,
 * wasmtime-style --env and --dir, --deterministic, and messages for unknown options.
 */
class CliConventionsTest {
  @TempDir Path dir;

  @Test
  void versionNamesWizer4jEndiveAndJava() {
    Result r = assertSucceeds(run("--version"));
    String text = new String(r.stdout(), StandardCharsets.UTF_8).strip();
    Pattern expected =
        Pattern.compile(
            "wizer4j \\d+\\.\\d+\\.\\d+(-SNAPSHOT)? \\(Endive 1\\.0\\.0, Java "
                + Pattern.quote(System.getProperty("java.version"))
                + "\\)");
    assertTrue(expected.matcher(text).matches(), text);
  }

  /** Copies the guest's environment (environ_get) to memory at 1024, and its size to 0 and 4. */
  static final String ENV_DUMP =
      """
      (module
        (import "wasi_snapshot_preview1" "environ_sizes_get"
          (func $sizes (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "environ_get"
          (func $get (param i32 i32) (result i32)))
        (memory 1)
        (func (export "wizer-initialize")
          (drop (call $sizes (i32.const 0) (i32.const 4)))
          (drop (call $get (i32.const 512) (i32.const 1024)))))
      """;

  @Test
  void envWithAndWithoutValue() {
    Path in = write(dir, "env.wasm", wat(ENV_DUMP));
    String home = System.getenv("PATH");
    assertTrue(home != null, "the test needs PATH in its environment");
    Result r =
        assertSucceeds(
            run(
                "--allow-wasi",
                "--env",
                "A=1",
                "--env",
                "EMPTY=",
                "--env",
                "PATH",
                "--env",
                "WIZER4J_SURELY_UNSET_VARIABLE",
                in.toString()));
    Instance i = instantiate(r.stdout());
    assertEquals(3, i.memory().readInt(0), "A, EMPTY and PATH; the unset one is skipped");
    String env = i.memory().readString(1024, i.memory().readInt(4));
    assertEquals(List.of("A=1", "EMPTY=", "PATH=" + home), Arrays.asList(env.split("\0")));

    assertFails(run("--allow-wasi", "--env", "=x", in.toString()), 2, "'=x'", "--env");
  }

  /** Reads the name of preopened directory fd 3 into memory at 16 (its length at 4). */
  static final String PREOPEN_NAME =
      """
      (module
        (import "wasi_snapshot_preview1" "fd_prestat_get"
          (func $prestat (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "fd_prestat_dir_name"
          (func $name (param i32 i32 i32) (result i32)))
        (memory 1)
        (func (export "wizer-initialize")
          (drop (call $prestat (i32.const 3) (i32.const 0)))
          (drop (call $name (i32.const 3) (i32.const 16) (i32.load (i32.const 4))))))
      """;

  private String preopenedName(String... dirOption) {
    Path in = write(dir, "dirs.wasm", wat(PREOPEN_NAME));
    String[] args = new String[dirOption.length + 2];
    args[0] = "--allow-wasi";
    System.arraycopy(dirOption, 0, args, 1, dirOption.length);
    args[args.length - 1] = in.toString();
    Instance i = instantiate(assertSucceeds(run(args)).stdout());
    return i.memory().readString(16, i.memory().readInt(4));
  }

  @Test
  void dirAcceptsWasmtimesHostColonColonGuest() throws IOException {
    Path host = Files.createDirectory(dir.resolve("assets"));
    assertEquals("/data", preopenedName("--dir", host + "::/data"), "wasmtime: HOST::GUEST");
    assertEquals("/data", preopenedName("--mapdir", "/data::" + host), "Wizer: GUEST::HOST");
    assertEquals(host.toString(), preopenedName("--dir", host.toString()), "Wizer: DIR");
    Path in = write(dir, "dirs.wasm", wat(PREOPEN_NAME));
    for (String bad : List.of("::/data", host + "::", "a::b::c")) {
      assertFails(run("--allow-wasi", "--dir", bad, in.toString()), 2, "'" + bad + "'");
    }
  }

  /** Stores realtime and monotonic clock readings at 0 and 8, 16 random bytes at 16. */
  static final String CLOCK_AND_RANDOM =
      """
      (module
        (import "wasi_snapshot_preview1" "clock_time_get"
          (func $clock (param i32 i64 i32) (result i32)))
        (import "wasi_snapshot_preview1" "random_get"
          (func $random (param i32 i32) (result i32)))
        (memory 1)
        (data (i32.const 100) "unrelated state")
        (func (export "wizer-initialize")
          (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 0)))
          (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 8)))
          (drop (call $random (i32.const 16) (i32.const 16)))))
      """;

  @Test
  void deterministicGivesIdenticalBytesAndDiffersOnlyInTimeAndRandomness() {
    Path in = write(dir, "clock.wasm", wat(CLOCK_AND_RANDOM));
    byte[] a = assertSucceeds(run("--allow-wasi", "--deterministic", in.toString())).stdout();
    byte[] b = assertSucceeds(run("--allow-wasi", "--deterministic", in.toString())).stdout();
    assertValid(a);
    assertArrayEquals(a, b, "two deterministic runs");

    byte[] real = assertSucceeds(run("--allow-wasi", in.toString())).stdout();
    assertFalse(Arrays.equals(a, real));
    byte[] ma = instantiate(a).memory().readBytes(0, 65536);
    byte[] mr = instantiate(real).memory().readBytes(0, 65536);
    for (int k = 32; k < ma.length; k++) {
      assertEquals(ma[k], mr[k], "memory beyond the stored values differs at " + k);
    }
    assertFalse(Arrays.equals(Arrays.copyOf(ma, 8), Arrays.copyOf(mr, 8)), "realtime differs");
  }

  @Test
  void unknownOptionNeverNamesTheInputAsAnOption() {
    Path in = write(dir, "in.wasm", wat("(module (func (export \"wizer-initialize\")))"));
    for (String[] args :
        List.of(
            new String[] {"--bogus", "value", in.toString()},
            new String[] {in.toString(), "--bogus"},
            new String[] {"--bogus", in.toString()})) {
      Result r = run(args);
      String line = assertFails(r, 2, "'--bogus'");
      assertFalse(line.contains("in.wasm"), "the input is not an unknown option: " + line);
    }
    Result two = run("--bogus", "x", "--other", in.toString());
    String line = assertFails(two, 2, "'--bogus'", "'--other'");
    assertFalse(line.contains("in.wasm"), line);
  }

  @Test
  void heartbeatAfterTwoSecondsThenPerStageAndEveryTenSeconds() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream err = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    AtomicLong now = new AtomicLong(1_000_000_000L);
    long s = 1_000_000_000L;
    HeartbeatProgress p = new HeartbeatProgress(err, now::get);
    p.stage("parse and validate");
    p.stage("call componentize.wizer");
    now.addAndGet(s * 19 / 10);
    p.tick();
    assertEquals("", bytes.toString(StandardCharsets.UTF_8), "quiet for the first 2 s");
    now.addAndGet(s / 10);
    p.tick();
    p.tick();
    now.addAndGet(9 * s);
    p.tick();
    now.addAndGet(s);
    p.tick(); // 12 s: ten seconds after the last line
    now.addAndGet(18 * s);
    p.stage("snapshot"); // 30 s
    p.note("notes are for -v");
    p.close();
    now.addAndGet(60 * s);
    p.tick();
    p.stage("rewrite");
    assertEquals(
        List.of(
            "wizer4j: running componentize.wizer... 2 s",
            "wizer4j: running componentize.wizer... 12 s",
            "wizer4j: snapshot... 30 s"),
        bytes.toString(StandardCharsets.UTF_8).lines().toList());
  }

  /** Sleeps 2.5 s in init through WASI poll_oneoff (a relative clock subscription). */
  static final String SLOW =
      """
      (module
        (import "wasi_snapshot_preview1" "poll_oneoff"
          (func $poll (param i32 i32 i32 i32) (result i32)))
        (memory 1)
        (func (export "wizer-initialize")
          (i32.store8 (i32.const 8) (i32.const 0))        ;; tag: clock
          (i32.store (i32.const 16) (i32.const 1))         ;; monotonic
          (i64.store (i32.const 24) (i64.const 2500000000)) ;; 2.5 s, relative
          (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))
      """;

  @Test
  void longRunPrintsHeartbeatUnlessQuiet() {
    Path in = write(dir, "slow.wasm", wat(SLOW));
    Path out = dir.resolve("out.wasm");
    Result loud = assertSucceeds(run("--allow-wasi", in.toString(), "-o", out.toString()));
    assertTrue(loud.stderr().contains("wizer4j: running wizer-initialize... 2 s"), loud::describe);
    Result quiet =
        assertSucceeds(run("--allow-wasi", "--quiet", in.toString(), "-o", out.toString()));
    assertEquals("", quiet.stderr());
  }
}
