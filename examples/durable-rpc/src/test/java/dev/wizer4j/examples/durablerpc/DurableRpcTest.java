package dev.wizer4j.examples.durablerpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import dev.wizer4j.durable.DirectoryStore;
import dev.wizer4j.durable.DurableHost;
import dev.wizer4j.durable.SnapshotStore;
import dev.wizer4j.durable.TaskStatus;
import dev.wizer4j.endive.EndiveInstanceState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/** The host's steps in one JVM: many suspend/resume rounds, and what they must not change. */
class DurableRpcTest {
  static final Path EXAMPLE = Path.of(System.getProperty("basedir", "."));
  static final Path GUEST = EXAMPLE.resolve("guest.wasm");

  @TempDir Path dir;

  /**
   * 100 rounds of resume, answer, save: a round saves a small delta until the deltas reach their
   * limit, then a full state again; the full state keeps its size (it holds only what the snapshot
   * adds to the guest), the task's stored bytes stay within the full state plus the delta limit,
   * the task materialized after every round is byte-identical to a snapshot of one instance that
   * was never suspended, and the result equals an uninterrupted run.
   */
  @Test
  void hundredRoundsNeitherGrowNorDrift() throws IOException {
    int n = 100;
    DirectoryStore store = new DirectoryStore(dir);
    DurableRpcHost.init(GUEST, store);
    TaskStatus step = DurableRpcHost.start(store, 1, n);

    // The reference: one live instance of the same pre-initialized guest, snapshotted after each
    // call with the same options, but never saved and resumed.
    byte[] guest = store.loadGuest(store.guests().get(0)).orElseThrow();
    Wizer wizer = Wizer.builder().keepInstrumentation(true).build();
    ModuleContext cx = wizer.parseInstrumented(guest);
    Instance live = Instance.builder(Parser.parse(guest)).build();
    assertEquals(0, live.export("start").apply(1, n)[0]);

    List<Long> fullSizes = new ArrayList<>();
    List<Long> totals = new ArrayList<>();
    List<Integer> deltaCounts = new ArrayList<>();
    for (int round = 0; round < n; round++) {
      assertFalse(step.done(), "done too early, at round " + round);
      int request = (int) step.request();
      assertEquals(round, request);
      long value = DurableRpcHost.remote(request);
      step = DurableRpcHost.respond(store, 1, request, value);
      assertEquals(round + 2, step.generation());
      SnapshotStore.Stored stored = store.load("1").orElseThrow();
      assertEquals(step.size(), stored.size());
      assertEquals(stored.bytes().length, Files.size(store.stateFile("1").orElseThrow()));
      fullSizes.add((long) stored.bytes().length);
      totals.add(stored.size());
      deltaCounts.add(stored.deltas().size());

      live.export("on_response").apply(request, value);
      Path out = dir.resolve("round.wasm");
      DurableRpcHost.materialize(store, 1, out);
      byte[] reference = wizer.snapshot(cx, EndiveInstanceState.of(live));
      assertArrayEquals(reference, Files.readAllBytes(out), "round " + round + ": state differs");
    }
    assertTrue(step.done());
    assertEquals(DurableRpcHost.runUninterrupted(GUEST, n), step.result());

    long min = fullSizes.stream().mapToLong(Long::longValue).min().orElseThrow();
    long max = fullSizes.stream().mapToLong(Long::longValue).max().orElseThrow();
    assertTrue(max - min <= 8, "full state size drifts: " + fullSizes);
    // The first answer is saved as a delta; later a step compacts (writes a full state, no deltas).
    assertEquals(1, deltaCounts.get(0));
    assertTrue(deltaCounts.contains(0), "never compacted: " + deltaCounts);
    // Deltas may take DEFAULT_DELTA_BYTES.
    long deltaLimit = DurableHost.DEFAULT_DELTA_BYTES;
    long maxTotal = totals.stream().mapToLong(Long::longValue).max().orElseThrow();
    assertTrue(maxTotal <= max + deltaLimit, "stored bytes grow: " + totals);
    // No guest code: the task's non-zero memory (the prime table, the task record) plus at most
    // 1 KiB of header and layout.
    Path out = dir.resolve("final.wasm");
    DurableRpcHost.materialize(store, 1, out);
    var memory = Instance.builder(Parser.parse(Files.readAllBytes(out))).build().memory(0);
    long nonZero = 0;
    for (byte b : memory.readBytes(0, memory.pages() * 65536)) {
      nonZero += b != 0 ? 1 : 0;
    }
    assertTrue(max <= nonZero + 1024, "state of " + max + " bytes, " + nonZero + " non-zero");
    System.out.printf(
        "durable-rpc: %d rounds, full state %d..%d bytes for %d non-zero bytes of memory,"
            + " full state + deltas at most %d bytes%n",
        n, min, max, nonZero, maxTotal);
  }

  /**
   * Compacting a task with deltas leaves one full state of no more bytes than before and the same
   * task (byte-identical as a module); the task then goes on to the uninterrupted result.
   */
  @Test
  void compactLeavesOneFullStateAndTheSameTask() throws IOException {
    int n = 10;
    DirectoryStore store = new DirectoryStore(dir);
    DurableRpcHost.init(GUEST, store);
    DurableRpcHost.start(store, 2, n);
    for (int k = 0; k < 3; k++) { // three deltas fit the default budget of 512 bytes
      DurableRpcHost.respond(store, 2, k, DurableRpcHost.remote(k));
    }
    SnapshotStore.Stored before = store.load("2").orElseThrow();
    assertEquals(3, before.deltas().size());
    Path moduleBefore = dir.resolve("before.wasm");
    DurableRpcHost.materialize(store, 2, moduleBefore);

    String line = DurableRpcHost.compact(store, 2);
    assertEquals(
        "task 2: full state + 3 deltas ("
            + before.size()
            + " bytes) compacted into one full state (generation 5, "
            + store.load("2").orElseThrow().size()
            + " bytes)",
        line);
    SnapshotStore.Stored after = store.load("2").orElseThrow();
    assertEquals(List.of(), after.deltas());
    assertEquals(before.generation() + 1, after.generation());
    assertTrue(after.size() <= before.size(), after.size() + " > " + before.size());
    try (Stream<Path> files = Files.list(dir.resolve("tasks/2"))) {
      assertEquals(List.of("00000000000000000005.state"), names(files));
    }
    Path moduleAfter = dir.resolve("after.wasm");
    DurableRpcHost.materialize(store, 2, moduleAfter);
    assertArrayEquals(Files.readAllBytes(moduleBefore), Files.readAllBytes(moduleAfter));

    assertEquals(
        "task 2: no deltas to compact (generation 5, " + after.size() + " bytes)",
        DurableRpcHost.compact(store, 2));
    assertArrayEquals(after.bytes(), store.load("2").orElseThrow().bytes());

    TaskStatus step = null;
    for (int k = 3; k < n; k++) {
      step = DurableRpcHost.respond(store, 2, k, DurableRpcHost.remote(k));
    }
    assertTrue(step.done());
    assertEquals(DurableRpcHost.runUninterrupted(GUEST, n), step.result());
    HostException missing =
        assertThrows(HostException.class, () -> DurableRpcHost.compact(store, 9));
    assertEquals("no task 9 in the store", missing.getMessage());
  }

  private static List<String> names(Stream<Path> files) {
    return files.map(p -> p.getFileName().toString()).sorted().toList();
  }

  @Test
  void resultIsTheWeightedSumOfTheAnswers() {
    // prime(k) * f(k) for k < 5: 2*7 + 3*8 + 5*11 + 7*16 + 11*23
    assertEquals(458, DurableRpcHost.runUninterrupted(GUEST, 5));
  }

  /** A duplicate or stale answer is refused, and the stored state is left exactly as it was. */
  @Test
  void answersOnlyThePendingRequest() throws IOException {
    DirectoryStore store = new DirectoryStore(dir);
    DurableRpcHost.init(GUEST, store);
    DurableRpcHost.start(store, 3, 4);
    DurableRpcHost.respond(store, 3, 0, DurableRpcHost.remote(0));
    Path file = store.stateFile("3").orElseThrow();
    byte[] before = Files.readAllBytes(file);

    HostException stale =
        assertThrows(HostException.class, () -> DurableRpcHost.respond(store, 3, 0, 7));
    assertEquals("task 3 waits for request 1, not request 0; nothing changed", stale.getMessage());
    assertEquals(file, store.stateFile("3").orElseThrow());
    assertArrayEquals(before, Files.readAllBytes(file));

    for (int k = 1; k < 4; k++) {
      DurableRpcHost.respond(store, 3, k, DurableRpcHost.remote(k));
    }
    Path doneFile = store.stateFile("3").orElseThrow();
    byte[] done = Files.readAllBytes(doneFile);
    HostException late =
        assertThrows(HostException.class, () -> DurableRpcHost.respond(store, 3, 4, 1));
    assertTrue(late.getMessage().startsWith("task 3 is already done"), late.getMessage());
    assertArrayEquals(done, Files.readAllBytes(store.stateFile("3").orElseThrow()));
    assertEquals(
        DurableRpcHost.runUninterrupted(GUEST, 4), DurableRpcHost.status(store, 3).result());
  }

  /** The same task driven the same way gives byte-identical stored states. */
  @Test
  void storedStatesAreDeterministic() throws IOException {
    List<byte[]> states = new ArrayList<>();
    for (String name : List.of("a", "b")) {
      SnapshotStore store = new DirectoryStore(dir.resolve(name));
      DurableRpcHost.init(GUEST, store);
      DurableRpcHost.start(store, 5, 3);
      DurableRpcHost.respond(store, 5, 0, DurableRpcHost.remote(0));
      states.add(store.load("5").orElseThrow().bytes());
    }
    assertArrayEquals(states.get(0), states.get(1));
  }

  /** The committed guest.wasm is what build.sh makes from guest.wat. */
  @Test
  void committedGuestIsBuiltFromItsSource() throws Exception {
    Path out = dir.resolve("guest.wasm");
    Process p;
    try {
      p =
          new ProcessBuilder(
                  "wat2wasm", EXAMPLE.resolve("guest.wat").toString(), "-o", out.toString())
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      Assumptions.abort("wat2wasm is not installed (apt-get install wabt)");
      return;
    }
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), log);
    assertArrayEquals(
        Files.readAllBytes(out), Files.readAllBytes(GUEST), "guest.wasm is stale: run ./build.sh");
  }
}
