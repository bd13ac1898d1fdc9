package dev.wizer4j.durable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.ModuleState;
import dev.wizer4j.durable.DurableException.Conflict;
import dev.wizer4j.durable.DurableException.InvalidState;
import dev.wizer4j.durable.DurableException.InvalidState.Reason;
import dev.wizer4j.durable.DurableException.NoSuchTask;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/** The library against each store: a life of a task, refusals with nothing changed, conflicts. */
class DurableHostTest {
  @TempDir Path tmp;

  static Stream<Stores.Kind> kinds() {
    return Stores.kinds();
  }

  private static DurableHost host(SnapshotStore store) {
    return DurableHost.builder().store(store).maxMemoryPages(Guests.MAX_PAGES).build();
  }

  /** A host that writes a full state every step. */
  private static DurableHost fullHost(SnapshotStore store) {
    return DurableHost.builder()
        .store(store)
        .maxMemoryPages(Guests.MAX_PAGES)
        .deltaBytes(0)
        .build();
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aTaskSuspendedAfterEveryAnswerEndsLikeAnUninterruptedRun(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      TaskStatus st = Guests.start(host, guest, "t1", 5, 4096);
      assertEquals(0, st.request());
      assertEquals(1, st.generation());
      while (!st.done()) {
        long before = st.generation();
        st = Guests.answerNext(host, "t1");
        assertEquals(before + 1, st.generation());
      }
      Guests.Reference ref = Guests.uninterrupted(5, 4096);
      assertEquals(ref.result(), st.result());
      assertEquals(st.result(), host.status("t1").result());
      assertTrue(host.status("t1").done());

      // The materialized module is an ordinary module with the task's state in place.
      byte[] module = host.materialize("t1");
      Instance i = Instance.builder(Parser.parse(module)).build();
      assertEquals(ref.result(), i.export("durable_result").apply()[0]);
      assertEquals(ref.ballastHash(), i.export("ballast_hash").apply()[0]);
      assertEquals(-1, i.export("durable_status").apply()[0]);
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aThousandFullStepsKeepOneStateOfConstantSizePerTask(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = fullHost(s.store());
      String guest = host.register(Guests.wasm());
      int n = 1000;
      int fill = 8192;
      Guests.start(host, guest, "long", n, fill);
      Guests.start(host, guest, "other", 3, 0);
      long firstSize = -1;
      TaskStatus st = null;
      for (int k = 0; k < n; k++) {
        st = Guests.answerNext(host, "long");
        List<SnapshotStore.TaskInfo> tasks = host.list();
        assertEquals(List.of("long", "other"), tasks.stream().map(t -> t.task()).toList());
        assertEquals(k + 2, tasks.get(0).generation());
        assertEquals(st.size(), tasks.get(0).size());
        if (firstSize < 0) {
          firstSize = st.size();
        }
        // The partial sum's zero bytes come and go, which moves a segment boundary or two.
        assertTrue(Math.abs(st.size() - firstSize) <= 32, "size " + st.size() + " vs " + firstSize);
        assertTrue(s.store().load("long").orElseThrow().deltas().isEmpty());
        if (kind == Stores.Kind.DIRECTORY) {
          Path dir = ((DirectoryStore) s.store()).root().resolve("tasks/long");
          assertEquals(1, count(dir), "state files of task long after step " + k);
        }
      }
      assertTrue(st.done());
      assertEquals(Guests.uninterrupted(n, fill).result(), st.result());

      // Per-task size: the memory's non-zero bytes plus at most 1 KiB.
      Instance live = Instance.builder(Parser.parse(host.materialize("long"))).build();
      long nonZero = nonZeroBytes(live);
      assertTrue(st.size() <= nonZero + 1024, st.size() + " bytes stored for " + nonZero);
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aThousandStepsWithDeltasStayWithinTheirBudget(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      assumeTrue(s.store().supportsDeltas(), kind + " keeps no deltas");
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      int n = 1000;
      int fill = 65536;
      long full = Guests.start(host, guest, "long", n, fill).size();
      TaskStatus st = null;
      int fullSaves = 0;
      long most = 0;
      for (int k = 0; k < n; k++) {
        st = Guests.answerNext(host, "long");
        SnapshotStore.Stored stored = s.store().load("long").orElseThrow();
        assertEquals(k + 2, stored.generation());
        assertEquals(stored.size(), st.size());
        assertEquals(stored.size(), host.list().get(0).size());
        assertEquals(stored.deltas().size(), host.list().get(0).deltas());
        if (stored.deltas().isEmpty()) {
          fullSaves++;
          full = stored.bytes().length;
        }
        long budget = DurableHost.DEFAULT_DELTA_BYTES;
        assertTrue(
            stored.size() <= full + budget,
            "step " + k + ": " + stored.size() + " bytes stored, full state " + full);
        assertTrue(stored.deltas().size() <= DurableHost.MAX_DELTAS);
        // A step stores what it changed: 20 bytes of memory, two globals and a header.
        for (byte[] d : stored.deltas()) {
          assertTrue(d.length < 200, "a delta of " + d.length + " bytes");
        }
        most = Math.max(most, stored.size());
        if (k % 100 == 0) {
          // The bound, with the default budget: non-zero memory plus 1 KiB at most.
          Instance now = Instance.builder(Parser.parse(host.materialize("long"))).build();
          long nonZero = nonZeroBytes(now);
          assertTrue(
              stored.size() <= nonZero + 1024,
              "step " + k + ": " + stored.size() + " bytes stored for " + nonZero + " non-zero");
        }
        if (kind == Stores.Kind.DIRECTORY) {
          Path dir = ((DirectoryStore) s.store()).root().resolve("tasks/long");
          assertEquals(1 + stored.deltas().size(), count(dir), "files after step " + k);
        }
      }
      assertTrue(st.done());
      assertTrue(fullSaves >= 3, fullSaves + " full saves in " + n + " steps");
      assertEquals(Guests.uninterrupted(n, fill).result(), st.result());
      assertEquals(st.result(), host.status("long").result());

      // The materialized module and a compacted task hold the same state as the deltas.
      Instance live = Instance.builder(Parser.parse(host.materialize("long"))).build();
      assertEquals(
          Guests.uninterrupted(n, fill).ballastHash(), live.export("ballast_hash").apply()[0]);
      boolean hadDeltas = !s.store().load("long").orElseThrow().deltas().isEmpty();
      TaskStatus compacted = host.compact("long");
      assertEquals(st.generation() + (hadDeltas ? 1 : 0), compacted.generation());
      assertTrue(s.store().load("long").orElseThrow().deltas().isEmpty());
      long nonZero = nonZeroBytes(live);
      assertTrue(
          compacted.size() <= nonZero + 1024, compacted.size() + " bytes stored for " + nonZero);
      Instance again = Instance.builder(Parser.parse(host.materialize("long"))).build();
      assertEquals(
          Guests.uninterrupted(n, fill).ballastHash(), again.export("ballast_hash").apply()[0]);
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void corruptForgedSwappedAndStaleDeltasAreRefusedWithNothingChanged(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      assumeTrue(s.store().supportsDeltas(), kind + " keeps no deltas");
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      Guests.start(host, guest, "a", 10, 70_000); // two pages of ballast: memory of 3 pages
      Guests.start(host, guest, "b", 10, 70_000);
      for (int k = 0; k < 3; k++) {
        Guests.answerNext(host, "a"); // deltas 2, 3, 4
      }
      Guests.answerNext(host, "b");
      Guests.answerNext(host, "b"); // b's delta 3
      SnapshotStore.Stored a = s.store().load("a").orElseThrow();
      assertEquals(4, a.generation());
      assertEquals(3, a.deltas().size());
      byte[] good = a.deltas().get(1); // generation 3
      StateFormat.Decoded d = StateFormat.decode(good, "a");
      assertTrue(d.delta());

      List<Case> cases = new ArrayList<>();
      byte[] flipped = good.clone();
      flipped[flipped.length - 10] ^= 0x10;
      cases.add(new Case("one flipped bit", flipped, Reason.CORRUPT, "checksum mismatch"));
      cases.add(
          new Case(
              "truncated",
              java.util.Arrays.copyOf(good, good.length - 3),
              Reason.CORRUPT,
              "truncated"));
      cases.add(
          new Case("an older delta put back", a.deltas().get(0), Reason.STALE, "generation 2"));
      cases.add(
          new Case(
              "task b's delta under a's name",
              s.store().load("b").orElseThrow().deltas().get(1),
              Reason.OTHER_TASK,
              "task `b`'s"));
      cases.add(new Case("a full state as a delta", a.bytes(), Reason.FORMAT, "a full state"));
      cases.add(
          new Case(
              "a delta that shrinks memory",
              forge(d, st -> new ModuleState(st.globals(), new long[] {1}, List.of())),
              Reason.DOES_NOT_FIT,
              "memories only grow"));
      cases.add(
          new Case(
              "a range past the end of memory",
              forge(d, DurableHostTest::pastTheEnd),
              Reason.DOES_NOT_FIT,
              "outside memory 0"));
      cases.add(
          new Case(
              "a delta of another guest",
              StateFormat.encode(
                  StateFormat.DELTA,
                  new byte[32],
                  d.generation(),
                  d.done(),
                  d.value(),
                  "a",
                  d.state()),
              Reason.OTHER_GUEST,
              "the task's full state to guest"));

      for (Case c : cases) {
        s.tamperDelta("a", 3, c.bytes);
        InvalidState e = assertThrows(InvalidState.class, () -> host.status("a"), c.name);
        assertEquals(c.reason, e.reason(), c.name + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(c.says), c.name + ": " + e.getMessage());
        assertTrue(e.getMessage().contains("task `a` delta 3"), c.name + ": " + e.getMessage());
        e = assertThrows(InvalidState.class, () -> Guests.answerNext(host, "a"), c.name);
        assertEquals(c.reason, e.reason(), c.name);
        assertThrows(InvalidState.class, () -> host.materialize("a"), c.name);
        assertThrows(InvalidState.class, () -> host.compact("a"), c.name);
        SnapshotStore.Stored after = s.store().load("a").orElseThrow();
        assertArrayEquals(c.bytes, after.deltas().get(1), c.name + ": the stored delta changed");
        assertEquals(4, after.generation(), c.name + ": the generation changed");
        assertEquals(3, after.deltas().size(), c.name);
      }

      // Put the good delta back: the task goes on as if nothing happened.
      s.tamperDelta("a", 3, good);
      TaskStatus st = host.status("a");
      while (!st.done()) {
        st = Guests.answerNext(host, "a");
      }
      assertEquals(Guests.uninterrupted(10, 70_000).result(), st.result());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void corruptTruncatedForgedSwappedAndStaleStatesAreRefusedWithNothingChanged(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = fullHost(s.store());
      String guest = host.register(Guests.wasm());
      Guests.start(host, guest, "a", 10, 1024);
      Guests.answerNext(host, "a");
      Guests.start(host, guest, "b", 10, 1024);
      byte[] good = s.store().load("a").orElseThrow().bytes();
      byte[] oldA = good.clone();
      Guests.answerNext(host, "a"); // a is at generation 3 now; oldA is its generation 2
      good = s.store().load("a").orElseThrow().bytes();
      long generation = s.store().load("a").orElseThrow().generation();
      StateFormat.Decoded d = StateFormat.decode(good, "a");

      List<Case> cases = new ArrayList<>();
      byte[] flipped = good.clone();
      flipped[flipped.length - 200] ^= 1; // inside the ballast
      cases.add(new Case("one flipped bit", flipped, Reason.CORRUPT, "checksum mismatch"));
      cases.add(
          new Case(
              "truncated",
              java.util.Arrays.copyOf(good, good.length - 100),
              Reason.CORRUPT,
              "truncated"));
      cases.add(new Case("a wasm module", Guests.wasm(), Reason.FORMAT, "magic"));
      cases.add(new Case("empty", new byte[0], Reason.FORMAT, "not a wizer4j task state"));
      cases.add(
          new Case(
              "task b's state under a's name",
              s.store().load("b").orElseThrow().bytes(),
              Reason.OTHER_TASK,
              "task `b`'s"));
      cases.add(new Case("an older generation put back", oldA, Reason.STALE, "generation 2"));
      cases.add(
          new Case(
              "30,000 pages declared",
              forge(d, st -> new ModuleState(st.globals(), new long[] {30_000}, st.segments())),
              Reason.DOES_NOT_FIT,
              "30000 pages"));
      cases.add(
          new Case(
              "a segment past the end of memory",
              forge(d, DurableHostTest::pastTheEnd),
              Reason.DOES_NOT_FIT,
              "outside memory 0"));
      cases.add(
          new Case(
              "a global of another type",
              forge(
                  d,
                  st -> {
                    List<GlobalValue> gs = new ArrayList<>(st.globals());
                    gs.set(0, GlobalValue.f64Bits(0));
                    return new ModuleState(gs, st.memoryPages(), st.segments());
                  }),
              Reason.DOES_NOT_FIT,
              "F64"));
      byte[] unknownGuest =
          StateFormat.encode(
              StateFormat.FULL, new byte[32], d.generation(), d.done(), d.value(), "a", d.state());
      cases.add(
          new Case(
              "a state of a guest the store does not have",
              unknownGuest,
              Reason.OTHER_GUEST,
              "does not have"));

      for (Case c : cases) {
        s.tamper("a", c.bytes);
        InvalidState e = assertThrows(InvalidState.class, () -> host.status("a"), c.name);
        assertEquals(c.reason, e.reason(), c.name + ": " + e.getMessage());
        assertTrue(e.getMessage().contains(c.says), c.name + ": " + e.getMessage());
        e = assertThrows(InvalidState.class, () -> Guests.answerNext(host, "a"), c.name);
        assertEquals(c.reason, e.reason(), c.name);
        assertThrows(InvalidState.class, () -> host.materialize("a"), c.name);
        SnapshotStore.Stored after = s.store().load("a").orElseThrow();
        assertArrayEquals(c.bytes, after.bytes(), c.name + ": the stored state changed");
        assertEquals(generation, after.generation(), c.name + ": the generation changed");
      }

      // Put the good state back: the task goes on as if nothing happened.
      s.tamper("a", good);
      assertEquals(2, host.status("a").request());
    }
  }

  private record Case(String name, byte[] bytes, Reason reason, String says) {}

  /**
   * A full state or delta that verifies (right checksum, provenance and generation) with a changed
   * body.
   */
  private static byte[] forge(StateFormat.Decoded d, Function<ModuleState, ModuleState> change) {
    return StateFormat.encode(
        d.delta() ? StateFormat.DELTA : StateFormat.FULL,
        d.guestHash(),
        d.generation(),
        d.done(),
        d.value(),
        d.task(),
        d.base(),
        change.apply(d.state()));
  }

  /** A state with one segment of 8 bytes that ends 4 bytes past its memory. */
  private static ModuleState pastTheEnd(ModuleState st) {
    return new ModuleState(
        st.globals(),
        st.memoryPages(),
        List.of(new ModuleState.Segment(0, st.memoryPages()[0] * 65536 - 4, new byte[8])));
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aStoredGuestWithAStartSectionIsRefusedBeforeAnythingRuns(Stores.Kind kind) throws Exception {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      Guests.start(host, guest, "a", 3, 0);
      // The guest with a start function that never returns, stored under its true hash, and a
      // state of task a that names it and verifies.
      byte[] loop = looping();
      String hash = Guest.sha256(loop);
      s.store().putGuest(hash, loop);
      StateFormat.Decoded d = StateFormat.decode(s.store().load("a").orElseThrow().bytes(), "a");
      s.tamper(
          "a",
          StateFormat.encode(
              StateFormat.FULL,
              HexFormat.of().parseHex(hash),
              d.generation(),
              d.done(),
              d.value(),
              "a",
              d.state()));
      InvalidState e =
          assertTimeoutPreemptively(
              Duration.ofSeconds(20),
              () -> assertThrows(InvalidState.class, () -> host.status("a")));
      assertEquals(Reason.BAD_GUEST, e.reason(), e.getMessage());
      assertTrue(
          e.getMessage().endsWith("has a start section; a durable guest is pre-initialized"));
    }
  }

  /** A module whose start function loops forever (built here from its bytes: a wasm binary). */
  private static byte[] looping() throws Exception {
    Path wat = Files.createTempFile("loop", ".wat");
    Path wasm = Files.createTempFile("loop", ".wasm");
    Files.writeString(
        wat,
        "(module (memory (export \"memory\") 1)"
            + " (func $forever (loop $l (br $l))) (start $forever)"
            + " (func (export \"durable_status\") (result i64) (i64.const 0))"
            + " (func (export \"durable_result\") (result i64) (i64.const 0))"
            + " (export \"__wizer_memory_0\" (memory 0)))");
    Process p =
        new ProcessBuilder("wat2wasm", wat.toString(), "-o", wasm.toString())
            .redirectErrorStream(true)
            .start();
    assertEquals(0, p.waitFor(), new String(p.getInputStream().readAllBytes()));
    return Files.readAllBytes(wasm);
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aHostBoundToOneGuestRefusesStatesOfAnother(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost any = host(s.store());
      String guest = any.register(Guests.wasm());
      Guests.start(any, guest, "a", 3, 0);
      DurableHost other = DurableHost.builder().store(s.store()).guest("ab".repeat(32)).build();
      InvalidState e = assertThrows(InvalidState.class, () -> other.status("a"));
      assertEquals(Reason.OTHER_GUEST, e.reason());
      assertEquals(1, s.store().load("a").orElseThrow().generation());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aTaskStartsOnlyWithAGuestItsStoreHas(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      // The guest is verified (and cached) in this process, but registered in another store.
      String guest = host(new DirectoryStore(tmp.resolve("other"))).register(Guests.wasm());
      DurableHost host = host(s.store());
      InvalidState e = assertThrows(InvalidState.class, () -> Guests.start(host, guest, "a", 3, 0));
      assertEquals(Reason.OTHER_GUEST, e.reason());
      assertTrue(s.store().load("a").isEmpty());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void twoStepsFromOneGenerationOneSavesTheOtherConflicts(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      Guests.start(host, guest, "a", 3, 64);
      // The outer step loads generation 1; while it runs, an inner step of the same task loads
      // generation 1 too and saves generation 2. The outer save must then fail.
      Conflict c =
          assertThrows(
              Conflict.class,
              () ->
                  host.step(
                      "a",
                      g -> {
                        g.call("on_response", 0, Guests.answer(0));
                        assertEquals(2, Guests.answerNext(host, "a").generation());
                      }));
      assertEquals(1, c.expected());
      assertEquals(2, c.actual());
      assertEquals(2, s.store().load("a").orElseThrow().generation());
      assertEquals(1, host.status("a").request());
      // Starting an existing task is a conflict too, and a stale save through the SPI.
      assertThrows(Conflict.class, () -> Guests.start(host, guest, "a", 3, 64));
      assertThrows(Conflict.class, () -> s.store().save("a", 1, new byte[] {1}));
      assertThrows(Conflict.class, () -> s.store().save("a", 0, new byte[] {1}));
      assertEquals(2, s.store().load("a").orElseThrow().generation());
      assertTrue(host.status("a").request() == 1);
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void deleteAndList(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      assertEquals(List.of(guest), s.store().guests());
      Guests.start(host, guest, "x", 1, 0);
      Guests.start(host, guest, "y", 1, 0);
      assertThrows(Conflict.class, () -> s.store().delete("x", 5));
      assertTrue(host.delete("x"));
      assertFalse(host.delete("x"));
      assertEquals(List.of("y"), host.list().stream().map(t -> t.task()).toList());
      assertThrows(NoSuchTask.class, () -> host.status("x"));
      assertThrows(IllegalArgumentException.class, () -> host.status("../y"));
      // A deleted task can start again, from generation 1.
      assertEquals(1, Guests.start(host, guest, "x", 1, 0).generation());
    }
  }

  private static long count(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      return files.count();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static long nonZeroBytes(Instance i) {
    var mem = i.memory(0);
    long n = 0;
    byte[] all = mem.readBytes(0, mem.pages() * 65536);
    for (byte b : all) {
      if (b != 0) {
        n++;
      }
    }
    return n;
  }
}
