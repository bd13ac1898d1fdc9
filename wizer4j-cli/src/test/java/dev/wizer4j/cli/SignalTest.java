package dev.wizer4j.cli;

import static dev.wizer4j.cli.Cli.assertNoTemporaries;
import static dev.wizer4j.cli.Cli.assertUnchanged;
import static dev.wizer4j.cli.Cli.wat;
import static dev.wizer4j.cli.Cli.write;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM (what {@link Process#destroy()} sends) or SIGINT while the command line runs the init or
 * writes the output: the existing file at {@code -o} is left as it was and no temporary file
 * remains.
 */
class SignalTest {
  /** 128 + SIGTERM: the JVM's exit status after running its shutdown hooks for SIGTERM. */
  static final int KILLED_BY_SIGTERM = 143;

  /** 128 + SIGINT. */
  static final int KILLED_BY_SIGINT = 130;

  static final byte[] PRECIOUS = "precious bytes, not a module\n".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;

  private Process start(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-Xmx1g");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd)
        .directory(dir.toFile())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .start();
  }

  private static int stop(Process p) throws InterruptedException {
    p.destroy();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("wizer4j did not end 60 s after SIGTERM");
    }
    return p.exitValue();
  }

  @Test
  void sigtermDuringInit() throws Exception {
    Process p = startLooping();
    assertEquals(KILLED_BY_SIGTERM, stop(p));
    assertUnchanged(dir.resolve("out.wasm"), PRECIOUS);
    assertNoTemporaries(dir);
  }

  @Test
  void sigintDuringInit() throws Exception {
    Process p = startLooping();
    Process kill = new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start();
    assertTrue(kill.waitFor(10, TimeUnit.SECONDS) && kill.exitValue() == 0, "kill -INT works");
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("wizer4j did not end 60 s after SIGINT");
    }
    assertEquals(KILLED_BY_SIGINT, p.exitValue());
    assertUnchanged(dir.resolve("out.wasm"), PRECIOUS);
    assertNoTemporaries(dir);
  }

  /** Starts a run whose init never ends, and returns once the init function has started. */
  private Process startLooping() throws Exception {
    write(dir, "in.wasm", wat("(module (func (export \"wizer-initialize\") (loop (br 0))))"));
    write(dir, "out.wasm", PRECIOUS);
    Process p = start("-v", "in.wasm", "-o", "out.wasm");
    // With -v the "instantiate" stage is reported when it ends, i.e. when init starts.
    CompletableFuture<Boolean> initStarted =
        CompletableFuture.supplyAsync(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  if (line.contains("instantiate")) {
                    return true;
                  }
                }
                return false;
              } catch (IOException e) {
                return false;
              }
            });
    assertTrue(initStarted.get(60, TimeUnit.SECONDS), "the init function started");
    return p;
  }

  @Test
  void sigtermWhileWritingTheOutput() throws Exception {
    // A 100 MiB memory image: writing and fsyncing it takes tens of milliseconds or more, far
    // longer than delivering a signal, so the signal lands while the temporary file is written.
    write(
        dir,
        "in.wasm",
        wat(
            """
            (module
              (memory 1600)
              (func (export "wizer-initialize")
                (memory.fill (i32.const 0) (i32.const 0x55) (i32.const 104857600))))
            """));
    Path out = write(dir, "out.wasm", PRECIOUS);
    Process p = start("in.wasm", "-o", "out.wasm");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (temporaries().isEmpty()) {
      if (!p.isAlive()) {
        fail("wizer4j ended (status " + p.exitValue() + ") before a temporary file was seen");
      }
      if (System.nanoTime() > deadline) {
        p.destroyForcibly();
        fail("no temporary file appeared in 60 s");
      }
      Thread.onSpinWait();
    }
    assertEquals(KILLED_BY_SIGTERM, stop(p));
    assertUnchanged(out, PRECIOUS);
    assertNoTemporaries(dir);
  }

  private List<Path> temporaries() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> f.getFileName().toString().startsWith(".out.wasm.")).toList();
    }
  }
}
