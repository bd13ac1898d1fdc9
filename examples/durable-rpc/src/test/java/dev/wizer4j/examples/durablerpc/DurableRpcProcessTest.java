package dev.wizer4j.examples.durablerpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every step in its own JVM, as a user (or a scheduler) runs it: nothing survives between steps but
 * the files in the state directory.
 */
class DurableRpcProcessTest {
  private static final Pattern WAITING =
      Pattern.compile("^task (\\d+): waiting for request (\\d+) \\(");
  private static final Pattern DONE = Pattern.compile("^task (\\d+): done, result (-?\\d+) \\(");

  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  static Run host(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(DurableRpcHost.class.getName());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    p.getOutputStream().close();
    CompletableFuture<byte[]> err =
        CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("timed out: " + cmd);
    }
    return new Run(
        p.exitValue(),
        new String(out, StandardCharsets.UTF_8),
        new String(err.join(), StandardCharsets.UTF_8));
  }

  private static byte[] readAll(java.io.InputStream in) {
    try {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static String ok(Run r) {
    assertEquals(0, r.exit(), "exit status; stderr: " + r.err());
    assertEquals("", r.err());
    String[] lines = r.out().split("\n");
    assertEquals(1, lines.length, "one line: " + r.out());
    return lines[0];
  }

  /** One line on stderr, nothing on stdout, exit status 1. */
  static String failed(Run r) {
    assertEquals(1, r.exit(), "exit status; stdout: " + r.out() + " stderr: " + r.err());
    assertEquals("", r.out());
    String[] lines = r.err().split("\n");
    assertEquals(1, lines.length, "one line: " + r.err());
    assertTrue(lines[0].startsWith("error: "), lines[0]);
    return lines[0];
  }

  @Test
  void eachStepInItsOwnProcessGivesTheUninterruptedResult() throws Exception {
    String guest = DurableRpcTest.GUEST.toString();
    String state = dir.toString();
    assertTrue(ok(host("init", guest, state)).startsWith("pre-initialized "));

    String line = ok(host("start", state, "7", "5"));
    int answered = 0;
    Matcher m;
    while ((m = WAITING.matcher(line)).find()) {
      assertEquals("7", m.group(1));
      int request = Integer.parseInt(m.group(2));
      assertEquals(answered, request);
      line =
          ok(
              host(
                  "respond",
                  state,
                  "7",
                  m.group(2),
                  Long.toString(DurableRpcHost.remote(request))));
      answered++;
    }
    assertEquals(5, answered);
    m = DONE.matcher(line);
    assertTrue(m.find(), line);
    long durable = Long.parseLong(m.group(2));

    assertEquals("uninterrupted: result " + durable, ok(host("run-uninterrupted", guest, "5")));
    assertEquals(458, durable);
    assertEquals(line, ok(host("status", state, "7")));
  }

  @Test
  void failedStepsExitNonZeroWithOneLineAndLeaveTheStateAsItWas() throws Exception {
    String guest = DurableRpcTest.GUEST.toString();
    String state = dir.toString();
    ok(host("init", guest, state));
    ok(host("start", state, "1", "3"));
    ok(host("respond", state, "1", "0", "7"));
    Path file = dir.resolve("1.wasm");
    byte[] before = Files.readAllBytes(file);

    // No such task.
    String missing = failed(host("respond", state, "2", "0", "7"));
    assertEquals(
        "error: no task 2: " + dir.resolve("2.wasm") + " does not exist (start it first)", missing);
    assertTrue(Files.notExists(dir.resolve("2.wasm")));

    // A duplicate answer (a driver retrying a step that already went through).
    assertEquals(
        "error: task 1 waits for request 1, not request 0; nothing changed",
        failed(host("respond", state, "1", "0", "7")));
    assertArrayEquals(before, Files.readAllBytes(file));

    // Starting a task that exists would lose its state.
    assertEquals(
        "error: task 1 already exists (" + file + ")", failed(host("start", state, "1", "3")));
    assertArrayEquals(before, Files.readAllBytes(file));

    // A corrupted state file: cut short, as by a copy that did not finish.
    byte[] truncated = java.util.Arrays.copyOf(before, before.length / 2);
    Files.write(file, truncated);
    String corrupt = failed(host("respond", state, "1", "1", "8"));
    assertTrue(corrupt.startsWith("error: " + file + " is not a valid snapshot: "), corrupt);
    assertArrayEquals(truncated, Files.readAllBytes(file));

    // Not a module at all.
    byte[] garbage = "not a module".getBytes(StandardCharsets.UTF_8);
    Files.write(file, garbage);
    assertTrue(failed(host("respond", state, "1", "1", "8")).contains("not a WebAssembly module"));
    assertArrayEquals(garbage, Files.readAllBytes(file));

    // Put the good state back: the task goes on as if nothing had happened.
    Files.write(file, before);
    ok(host("respond", state, "1", "1", Long.toString(DurableRpcHost.remote(1))));
    String done = ok(host("respond", state, "1", "2", Long.toString(DurableRpcHost.remote(2))));
    assertEquals(
        "task 1: done, result " + DurableRpcHost.runUninterrupted(DurableRpcTest.GUEST, 3),
        done.substring(0, done.indexOf(" (")));

    // No temporary file is left behind by any step.
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(
          List.of("1.wasm", "guest.wasm"),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void badCommandLinesExitWithStatusTwo() throws Exception {
    Run r = host("respond", dir.toString(), "x", "0", "7");
    assertEquals(2, r.exit());
    assertEquals("error: TASK must be an integer, got `x`\n", r.err());
    assertEquals(2, host().exit());
  }
}
