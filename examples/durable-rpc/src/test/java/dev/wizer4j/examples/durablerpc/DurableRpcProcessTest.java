package dev.wizer4j.examples.durablerpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.durable.DirectoryStore;
import dev.wizer4j.durable.SnapshotStore;
import dev.wizer4j.durable.SnapshotStore.Stored;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import run.endive.wasm.Parser;

/**
 * Every step in its own JVM, as a user (or a scheduler) runs it: nothing survives between steps but
 * what is in the store.
 */
class DurableRpcProcessTest {
  private static final Pattern WAITING =
      Pattern.compile("^task (\\d+): waiting for request (\\d+) \\(");
  private static final Pattern DONE = Pattern.compile("^task (\\d+): done, result (-?\\d+) \\(");

  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  static Run host(String... args) throws IOException, InterruptedException {
    return host(List.of(), args);
  }

  static Run host(List<String> jvm, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvm);
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
    walkThrough(dir.resolve("store").toString());
  }

  @Test
  void theSameWithTheStateInAnH2Database() throws Exception {
    walkThrough("jdbc:h2:file:" + dir.resolve("db").toAbsolutePath());
  }

  /**
   * Answers the task's requests one process each; after the third answer `list` shows the three
   * deltas, `compact` turns them into one full state of no more bytes, and the task goes on to the
   * uninterrupted result.
   */
  private void walkThrough(String store) throws Exception {
    String guest = DurableRpcTest.GUEST.toString();
    assertTrue(ok(host("init", guest, store)).startsWith("pre-initialized "));

    String line = ok(host("--store", store, "start", "7", "5"));
    int answered = 0;
    Matcher m;
    while ((m = WAITING.matcher(line)).find()) {
      assertEquals("7", m.group(1));
      int request = Integer.parseInt(m.group(2));
      assertEquals(answered, request);
      if (answered == 3) {
        compactMidway(store);
      }
      line =
          ok(
              host(
                  "respond",
                  store,
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
    assertEquals(line, ok(host("status", store, "7")));

    // start, 3 answers, compact, 2 answers: generation 7, a full state and the 2 deltas after it.
    String listed = ok(host("list", store));
    assertTrue(listed.startsWith("task 7: generation 7, "), listed);
    assertTrue(listed.contains(" bytes (full state + 2 deltas), updated "), listed);
    Path module = dir.resolve("task7.wasm");
    assertTrue(ok(host("materialize", store, "7", module.toString())).startsWith("task 7 written"));
    assertEquals(0, Parser.parse(Files.readAllBytes(module)).startSection().map(x -> 1).orElse(0));
    assertEquals("deleted task 7", ok(host("delete", store, "7")));
    Run empty = host("list", store);
    assertEquals(0, empty.exit());
    assertEquals("", empty.out());
    assertEquals("error: no task 7 in the store", failed(host("delete", store, "7")));
  }

  private void compactMidway(String store) throws Exception {
    Stored before = stored(store, "7");
    assertEquals(3, before.deltas().size());
    assertEquals(
        "task 7: generation 4, " + before.size() + " bytes (full state + 3 deltas), updated ",
        ok(host("list", store)).replaceAll("updated .*", "updated "));

    String compacted = ok(host("compact", store, "7"));
    Stored after = stored(store, "7");
    assertEquals(List.of(), after.deltas());
    assertEquals(5, after.generation());
    assertTrue(after.size() <= before.size(), after.size() + " > " + before.size());
    assertEquals(
        "task 7: full state + 3 deltas ("
            + before.size()
            + " bytes) compacted into one full state (generation 5, "
            + after.size()
            + " bytes)",
        compacted);
    assertTrue(
        ok(host("list", store))
            .startsWith(
                "task 7: generation 5, " + after.size() + " bytes (full state, no deltas)"));
  }

  /** The task as stored, read in this process (and the store closed again, for H2's file lock). */
  private static Stored stored(String store, String task) {
    try (SnapshotStore s = DurableRpcHost.open(store)) {
      return s.load(task).orElseThrow();
    }
  }

  /**
   * With {@code --full-states} every answer saves the whole state: a directory store holds exactly
   * one state file per task at every step, and the result is the same. Without it, the same steps
   * leave deltas.
   */
  @Test
  void fullStatesKeepsOneStateFilePerTask() throws Exception {
    String guest = DurableRpcTest.GUEST.toString();
    for (boolean full : new boolean[] {true, false}) {
      Path storeDir = dir.resolve(full ? "full" : "deltas");
      String store = storeDir.toString();
      List<String> options = full ? List.of("--full-states") : List.of();
      ok(host("init", guest, store));
      for (String task : List.of("1", "2")) {
        ok(host(with(options, "start", store, task, "3")));
      }
      String line = "";
      for (int k = 0; k < 3; k++) {
        for (String task : List.of("1", "2")) {
          line =
              ok(
                  host(
                      with(
                          options,
                          "respond",
                          store,
                          task,
                          Integer.toString(k),
                          Long.toString(DurableRpcHost.remote(k)))));
        }
        for (String task : List.of("1", "2")) {
          List<String> files = taskFiles(storeDir, task);
          if (full) {
            assertEquals(List.of(String.format("%020d.state", k + 2)), files);
          } else {
            assertEquals(k + 2, files.size(), files.toString());
            assertTrue(files.get(files.size() - 1).endsWith(".delta"), files.toString());
          }
        }
      }
      Matcher m = DONE.matcher(line);
      assertTrue(m.find(), line);
      assertEquals(
          DurableRpcHost.runUninterrupted(DurableRpcTest.GUEST, 3), Long.parseLong(m.group(2)));
      String listed = host("list", store).out();
      String saves = full ? "(full state, no deltas)" : "(full state + 3 deltas)";
      assertEquals(2, listed.split(Pattern.quote(saves), -1).length - 1, listed);
    }
  }

  private static String[] with(List<String> options, String... args) {
    List<String> all = new ArrayList<>(options);
    all.addAll(List.of(args));
    return all.toArray(String[]::new);
  }

  private static List<String> taskFiles(Path storeDir, String task) throws IOException {
    try (Stream<Path> files = Files.list(storeDir.resolve("tasks").resolve(task))) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void compactOfAMissingTaskFails() throws Exception {
    String store = dir.resolve("store").toString();
    ok(host("init", DurableRpcTest.GUEST.toString(), store));
    assertEquals("error: no task 3 in the store", failed(host("compact", store, "3")));
  }

  @Test
  void failedStepsExitNonZeroWithOneLineAndLeaveTheStateAsItWas() throws Exception {
    String guest = DurableRpcTest.GUEST.toString();
    Path storeDir = dir.resolve("store");
    String state = storeDir.toString();
    ok(host("init", guest, state));
    ok(host("start", state, "1", "3"));
    ok(host("respond", state, "1", "0", "7"));
    Path file = new DirectoryStore(storeDir).stateFile("1").orElseThrow();
    byte[] before = Files.readAllBytes(file);

    // No such task.
    assertEquals("error: no task `2` in the store", failed(host("respond", state, "2", "0", "7")));

    // A duplicate answer (a driver retrying a step that already went through).
    assertEquals(
        "error: task 1 waits for request 1, not request 0; nothing changed",
        failed(host("respond", state, "1", "0", "7")));
    assertArrayEquals(before, Files.readAllBytes(file));

    // Starting a task that exists would lose its state: a conflict, exit status 3.
    Run again = host("start", state, "1", "3");
    assertEquals(DurableRpcHost.CONFLICT, again.exit());
    assertTrue(again.err().startsWith("error: task `1`: conflict"), again.err());
    assertArrayEquals(before, Files.readAllBytes(file));

    // A corrupted state file: cut short, as by a copy that did not finish.
    byte[] truncated = java.util.Arrays.copyOf(before, before.length / 2);
    Files.write(file, truncated);
    String corrupt = failed(host("respond", state, "1", "1", "8"));
    assertTrue(corrupt.startsWith("error: task `1`: truncated"), corrupt);
    assertArrayEquals(truncated, Files.readAllBytes(file));

    // One flipped bit in the data: the checksum says so (before, this ran and gave 100, not 93).
    byte[] flipped = before.clone();
    flipped[flipped.length - 300] ^= 4;
    Files.write(file, flipped);
    assertTrue(failed(host("status", state, "1")).contains("checksum mismatch"));
    assertTrue(failed(host("respond", state, "1", "1", "8")).contains("checksum mismatch"));
    assertArrayEquals(flipped, Files.readAllBytes(file));

    // Not a state at all.
    byte[] garbage = "not a state".getBytes(StandardCharsets.UTF_8);
    Files.write(file, garbage);
    assertTrue(failed(host("respond", state, "1", "1", "8")).contains("not a wizer4j task state"));
    assertArrayEquals(garbage, Files.readAllBytes(file));

    // Put the good state back: the task goes on as if nothing had happened.
    Files.write(file, before);
    ok(host("respond", state, "1", "1", Long.toString(DurableRpcHost.remote(1))));
    String done = ok(host("respond", state, "1", "2", Long.toString(DurableRpcHost.remote(2))));
    assertEquals(
        "task 1: done, result " + DurableRpcHost.runUninterrupted(DurableRpcTest.GUEST, 3),
        done.substring(0, done.indexOf(" (")));

    // No temporary file is left behind by any step.
    try (Stream<Path> files = Files.walk(storeDir)) {
      assertEquals(
          List.of(), files.filter(p -> p.getFileName().toString().startsWith(".tmp")).toList());
    }
  }

  /**
   * Forged states that verify (their checksum recomputed, as anyone who can write the store can
   * do): a state that declares 30,000 pages (2 GB) in 4 KB, a state that names a guest whose start
   * function loops forever, and an old-style state file that is a module with such a start
   * function. The read-only `status` and `respond` refuse each at once, allocate nothing, run
   * nothing, and change nothing.
   */
  @Test
  @Timeout(120)
  void forgedStatesAreRefusedBeforeAnythingRunsOrIsAllocated() throws Exception {
    Path storeDir = dir.resolve("store");
    String state = storeDir.toString();
    ok(host("init", DurableRpcTest.GUEST.toString(), state));
    ok(host("start", state, "1", "3"));
    Path file = new DirectoryStore(storeDir).stateFile("1").orElseThrow();
    byte[] good = Files.readAllBytes(file);

    // The header: 62 bytes, the task name ("1"), then the memory count and each memory's pages.
    ByteBuffer b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
    int pagesAt = 62 + 1 + 4;
    assertEquals(1, b.getInt(pagesAt));
    b.putInt(pagesAt, 30_000);
    byte[] huge = sealed(b.array());
    Files.write(file, huge);
    for (String cmd : List.of("status", "respond")) {
      Run r =
          cmd.equals("status")
              ? hostSmallHeap("status", state, "1")
              : hostSmallHeap("respond", state, "1", "0", "7");
      String line = failed(r);
      assertTrue(line.contains("30000 pages, more than the limit of 16384"), line);
    }
    assertArrayEquals(huge, Files.readAllBytes(file));

    // A guest whose start function never returns, stored under its true hash, and a state of
    // task 1 that names it.
    byte[] loop =
        wat2wasm(
            "(module (memory (export \"memory\") 1) (func $f (loop $l (br $l))) (start $f)"
                + " (func (export \"durable_status\") (result i64) (i64.const 0))"
                + " (func (export \"durable_result\") (result i64) (i64.const 0))"
                + " (export \"__wizer_memory_0\" (memory 0)))");
    String hash = sha256(loop);
    Files.write(storeDir.resolve("guests/" + hash + ".wasm"), loop);
    b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
    b.put(12, HexFormat.of().parseHex(hash));
    byte[] otherGuest = sealed(b.array());
    Files.write(file, otherGuest);
    String line = failed(host("status", state, "1"));
    assertEquals(
        "error: task `1`: guest "
            + hash.substring(0, 12)
            + ": has a start section; a durable guest is pre-initialized",
        line);
    assertEquals(line, failed(host("respond", state, "1", "0", "7")));
    assertArrayEquals(otherGuest, Files.readAllBytes(file));

    // The old kind of state file: a whole module whose start function loops.
    Files.write(file, loop);
    line = failed(host("status", state, "1"));
    assertTrue(line.contains("not a wizer4j task state"), line);
    assertArrayEquals(loop, Files.readAllBytes(file));
  }

  /** A state with its checksum recomputed over its (changed) contents. */
  private static byte[] sealed(byte[] state) {
    CRC32C crc = new CRC32C();
    crc.update(state, 0, state.length - 4);
    ByteBuffer.wrap(state)
        .order(ByteOrder.LITTLE_ENDIAN)
        .putInt(state.length - 4, (int) crc.getValue());
    return state;
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  private byte[] wat2wasm(String wat) throws Exception {
    Path in = dir.resolve("forged.wat");
    Path out = dir.resolve("forged.wasm");
    Files.writeString(in, wat);
    Process p =
        new ProcessBuilder("wat2wasm", in.toString(), "-o", out.toString())
            .redirectErrorStream(true)
            .start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), log);
    return Files.readAllBytes(out);
  }

  /** A step in a JVM with a 64 MB heap: a 2 GB allocation would fail it, not pass slowly. */
  static Run hostSmallHeap(String... args) throws IOException, InterruptedException {
    return host(List.of("-Xmx64m"), args);
  }

  @Test
  void badCommandLinesExitWithStatusTwo() throws Exception {
    Run r = host("respond", dir.toString(), "x", "0", "7");
    assertEquals(2, r.exit());
    assertEquals("error: TASK must be an integer, got `x`\n", r.err());
    assertEquals(2, host().exit());
    assertEquals(2, host("--store").exit());
    Run unknown = host("--fast", "list", dir.toString());
    assertEquals(2, unknown.exit());
    assertTrue(unknown.err().startsWith("error: unknown option `--fast`\n"), unknown.err());
    assertEquals(2, host("compact", dir.toString()).exit());
  }
}
