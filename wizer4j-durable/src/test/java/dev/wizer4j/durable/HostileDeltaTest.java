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
import dev.wizer4j.durable.DurableException.StoreFailure;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/**
 * What someone who can write the store (or a bad disk, or a second worker) can do to the delta
 * path: every forged delta that verifies is applied as data, every other one is refused with an
 * {@link InvalidState} or {@link StoreFailure}, never another exception, an allocation past what
 * the host allows, a hang, a file outside the store or a lost update.
 */
class HostileDeltaTest {
  @TempDir Path tmp;

  /** The host's limit in these tests: 16 pages, 1 MiB. */
  static final int LIMIT = 16;

  /** The tasks' memory: 1 page of task data and 2 of ballast. */
  static final int FILL = 70_000;

  static final int PAGES = 3;

  static Stream<Stores.Kind> kinds() {
    return Stores.kinds();
  }

  private static DurableHost host(SnapshotStore store) {
    return DurableHost.builder().store(store).maxMemoryPages(LIMIT).build();
  }

  /** Starts {@code task}, answers once (delta 2), and returns that delta, decoded. */
  private static StateFormat.Decoded startWithOneDelta(
      DurableHost host, String guest, String task) {
    Guests.start(host, guest, task, 10, FILL);
    Guests.answerNext(host, task);
    SnapshotStore.Stored s = host.store().load(task).orElseThrow();
    assertEquals(1, s.deltas().size(), "the step saved a delta");
    return StateFormat.decode(s.deltas().get(0), task);
  }

  /** {@code d}'s header as generation {@code generation} with a changed body. */
  private static byte[] forge(
      StateFormat.Decoded d, long generation, Function<ModuleState, ModuleState> change) {
    return StateFormat.encode(
        StateFormat.DELTA,
        d.guestHash(),
        generation,
        d.done(),
        d.value(),
        d.task(),
        d.base(),
        change.apply(d.state()));
  }

  private static Function<ModuleState, ModuleState> ranges(
      long[] pages, ModuleState.Segment... segments) {
    return st -> new ModuleState(st.globals(), pages, List.of(segments));
  }

  private static byte[] filled(int n, int value) {
    byte[] b = new byte[n];
    Arrays.fill(b, (byte) value);
    return b;
  }

  /** A forged delta 3, and what the host must make of it: applied (reason null) or refused. */
  private record Case(
      String name,
      Function<ModuleState, ModuleState> body,
      Reason reason,
      String says,
      long readAt,
      byte[] expect) {
    static Case refused(String name, Function<ModuleState, ModuleState> body, String says) {
      return new Case(name, body, Reason.DOES_NOT_FIT, says, 0, null);
    }

    static Case applied(
        String name, Function<ModuleState, ModuleState> body, long readAt, byte[] expect) {
      return new Case(name, body, null, null, readAt, expect);
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void forgedDeltasThatVerifyAreAppliedAsDataTheRestRefusedNothingElseThrown(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      assumeTrue(s.store().supportsDeltas(), kind + " keeps no deltas");
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      long end = PAGES * 65536L;
      long[] same = {PAGES};
      List<Case> cases = new ArrayList<>();
      cases.add(
          Case.applied(
              "a range across a page boundary",
              ranges(same, new ModuleState.Segment(0, 65536 - 5, filled(10, 0x5a))),
              65536 - 5,
              filled(10, 0x5a)));
      cases.add(
          Case.applied(
              "a range ending exactly at the end of memory",
              ranges(same, new ModuleState.Segment(0, end - 8, filled(8, 0x11))),
              end - 8,
              filled(8, 0x11)));
      cases.add(
          Case.applied(
              "zeros over a whole page that was not zero",
              ranges(same, new ModuleState.Segment(0, 65536, new byte[65536])),
              65536,
              new byte[65536]));
      cases.add(
          Case.applied(
              "zero-length ranges, one at the end of memory",
              ranges(
                  same,
                  new ModuleState.Segment(0, 100, new byte[0]),
                  new ModuleState.Segment(0, 100, filled(3, 7)),
                  new ModuleState.Segment(0, end, new byte[0])),
              100,
              filled(3, 7)));
      cases.add(
          Case.applied(
              "growth to the limit, a range in the last new page",
              ranges(
                  new long[] {LIMIT}, new ModuleState.Segment(0, LIMIT * 65536L - 4, filled(4, 9))),
              LIMIT * 65536L - 4,
              filled(4, 9)));
      cases.add(
          Case.refused(
              "overlapping ranges",
              ranges(
                  same,
                  new ModuleState.Segment(0, 100, filled(8, 1)),
                  new ModuleState.Segment(0, 104, filled(8, 2))),
              "overlaps the one before"));
      cases.add(
          Case.refused(
              "ranges out of order",
              ranges(
                  same,
                  new ModuleState.Segment(0, 200, filled(8, 1)),
                  new ModuleState.Segment(0, 100, filled(8, 2))),
              "overlaps the one before"));
      cases.add(
          Case.refused(
              "a range one byte past the end of memory",
              ranges(same, new ModuleState.Segment(0, end - 7, filled(8, 1))),
              "outside memory 0"));
      cases.add(
          Case.refused(
              "growth past the host's limit",
              ranges(new long[] {LIMIT + 1}),
              (LIMIT + 1) + " pages, more than the limit of " + LIMIT));
      cases.add(
          Case.refused(
              "growth to 2^32 - 1 pages",
              ranges(new long[] {0xffff_ffffL}),
              "4294967295 pages, more than the limit"));
      cases.add(
          Case.refused(
              "a global missing",
              st -> new ModuleState(st.globals().subList(1, st.globals().size()), same, List.of()),
              "global values, the module has"));
      cases.add(
          Case.refused(
              "a global too many",
              st -> {
                List<GlobalValue> gs = new ArrayList<>(st.globals());
                gs.add(GlobalValue.i32(1));
                return new ModuleState(gs, same, List.of());
              },
              "global values, the module has"));
      cases.add(
          Case.refused(
              "two memories", ranges(new long[] {PAGES, PAGES}), "2 memories, the module has 1"));
      cases.add(Case.refused("no memory", ranges(new long[0]), "0 memories, the module has 1"));

      int i = 0;
      for (Case c : cases) {
        String task = "t" + i++;
        StateFormat.Decoded d = startWithOneDelta(host, guest, task);
        byte[] forged = forge(d, 3, c.body);
        assertEquals(3, s.store().saveDelta(task, 2, forged));
        if (c.reason != null) {
          for (Runnable r :
              List.<Runnable>of(
                  () -> host.status(task),
                  () -> Guests.answerNext(host, task),
                  () -> host.compact(task),
                  () -> host.materialize(task))) {
            InvalidState e = assertThrows(InvalidState.class, r::run, c.name);
            assertEquals(c.reason, e.reason(), c.name + ": " + e.getMessage());
            assertTrue(e.getMessage().contains(c.says), c.name + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("task `" + task + "` delta 3"), e.getMessage());
          }
          SnapshotStore.Stored after = s.store().load(task).orElseThrow();
          assertEquals(3, after.generation(), c.name + ": nothing saved");
          assertArrayEquals(forged, after.deltas().get(1), c.name);
          continue;
        }
        // Applied: the guest sees the forged bytes, and goes on from them.
        byte[][] seen = new byte[2][];
        TaskStatus st =
            host.step(
                task,
                g -> {
                  seen[0] = g.instance().memory(0).readBytes((int) c.readAt, c.expect.length);
                  long k = g.before().request();
                  assertEquals(0, g.call("on_response", k, Guests.answer(k)), c.name);
                  seen[1] = g.instance().memory(0).readBytes((int) c.readAt, c.expect.length);
                });
        assertArrayEquals(c.expect, seen[0], c.name);
        assertEquals(4, st.generation(), c.name);
        // The step saved a delta, or (past the delta budget) a full state: compact then has
        // nothing to do.
        boolean deltas = !s.store().load(task).orElseThrow().deltas().isEmpty();
        TaskStatus compacted = host.compact(task);
        assertEquals(deltas ? 5 : 4, compacted.generation(), c.name);
        assertEquals(0, s.store().load(task).orElseThrow().deltas().size(), c.name);
        Instance again = Instance.builder(Parser.parse(host.materialize(task))).build();
        assertArrayEquals(
            seen[1],
            again.memory(0).readBytes((int) c.readAt, c.expect.length),
            c.name + ": the full state written by compact holds what the step left");
      }
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aDoneDeltaFollowedByMoreIsReadAsDataTheLastOneCounts(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      assumeTrue(s.store().supportsDeltas(), kind + " keeps no deltas");
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      StateFormat.Decoded d = startWithOneDelta(host, guest, "a");
      s.store()
          .saveDelta(
              "a",
              2,
              StateFormat.encode(
                  StateFormat.DELTA, d.guestHash(), 3, true, 99, "a", d.base(), d.state()));
      assertTrue(host.status("a").done());
      assertEquals(99, host.status("a").result());
      s.store().saveDelta("a", 3, forge(d, 4, st -> st));
      TaskStatus st = host.status("a");
      assertFalse(st.done(), "the newest delta says where the task stands");
      // State is data: the guest carries on from the state the deltas make.
      while (!st.done()) {
        st = Guests.answerNext(host, "a");
      }
      assertEquals(Guests.uninterrupted(10, FILL).result(), st.result());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void sixtyFourDeltasAreReadSixtyFiveAreRefusedBeforeDecoding(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      assumeTrue(s.store().supportsDeltas(), kind + " keeps no deltas");
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      StateFormat.Decoded d = startWithOneDelta(host, guest, "a");
      // Each one repeats delta 2 (the same answer again, as data): they all verify.
      for (long g = 3; g <= DurableHost.MAX_DELTAS + 1; g++) {
        s.store().saveDelta("a", g - 1, forge(d, g, st -> st));
      }
      assertEquals(DurableHost.MAX_DELTAS, s.store().load("a").orElseThrow().deltas().size());
      assertEquals(DurableHost.MAX_DELTAS + 1, host.status("a").generation());
      s.store()
          .saveDelta(
              "a", DurableHost.MAX_DELTAS + 1, forge(d, DurableHost.MAX_DELTAS + 2, st -> st));
      InvalidState e = assertThrows(InvalidState.class, () -> host.status("a"));
      assertEquals(Reason.FORMAT, e.reason());
      assertTrue(e.getMessage().contains("65 deltas after the full state"), e.getMessage());
      assertThrows(InvalidState.class, () -> Guests.answerNext(host, "a"));
      assertThrows(InvalidState.class, () -> host.compact("a"));
      assertEquals(DurableHost.MAX_DELTAS + 2, s.store().load("a").orElseThrow().generation());
    }
  }

  /**
   * A bitmap segment of n bytes of state stands for 8n bytes of memory. Before decoding checked
   * segments against their memory and the host's limit, a 2 MiB delta made the host allocate 16 MiB
   * (with a limit of 1 MiB) before refusing it, and one of 256 MiB asked for 2 GiB
   * (NegativeArraySizeException).
   */
  @Test
  void aSmallDeltaCannotMakeTheHostAllocatePastItsLimit() {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    assumeTrue(threads.isThreadAllocatedMemorySupported(), "no allocation counter here");
    threads.setThreadAllocatedMemoryEnabled(true);
    DirectoryStore store = new DirectoryStore(tmp.resolve("store"));
    DurableHost host = host(store);
    String guest = host.register(Guests.wasm());
    int claimed = 16 << 20; // 16 MiB of zeros: a bitmap of 2 MiB
    List<Case> cases =
        List.of(
            Case.refused(
                "16 MiB in a memory of 3 pages",
                ranges(new long[] {PAGES}, new ModuleState.Segment(0, 0, new byte[claimed])),
                "outside memory 0"),
            Case.refused(
                "16 MiB in a memory of 65535 pages",
                ranges(new long[] {65535}, new ModuleState.Segment(0, 0, new byte[claimed])),
                "65535 pages, more than the limit of 16"),
            Case.refused(
                "16 MiB over 16 ranges of 1 MiB, all at 0, in a memory of 16 pages",
                ranges(
                    new long[] {LIMIT},
                    Collections.nCopies(16, new ModuleState.Segment(0, 0, new byte[1 << 20]))
                        .toArray(new ModuleState.Segment[0])),
                "overlaps the one before"));
    int i = 0;
    for (Case c : cases) {
      String task = "a" + i++;
      StateFormat.Decoded d = startWithOneDelta(host, guest, task);
      byte[] forged = forge(d, 3, c.body);
      assertTrue(forged.length < claimed / 7, c.name + ": " + forged.length + " bytes stored");
      store.saveDelta(task, 2, forged);
      long before = threads.getCurrentThreadAllocatedBytes();
      InvalidState e = assertThrows(InvalidState.class, () -> host.status(task), c.name);
      long allocated = threads.getCurrentThreadAllocatedBytes() - before;
      assertTrue(e.getMessage().contains(c.says), c.name + ": " + e.getMessage());
      // Reading the files is all it may cost: the delta, the full state, a little more.
      long bound = forged.length + 2L * (1 << 20);
      assertTrue(
          allocated < bound,
          c.name + ": allocated " + allocated + " bytes for a delta of " + forged.length);
    }
  }

  /**
   * Generations near Long.MAX_VALUE (only a store changed by hand has them). The directory store
   * read generations 9223372036854775800 and up as junk, so a step saved there was lost: the next
   * load saw the generation before it.
   */
  @Test
  void generationsUpToLongMaxValueAreKeptAndNothingIsSavedAfterIt() throws Exception {
    DirectoryStore store = new DirectoryStore(tmp.resolve("store"));
    DurableHost host = host(store);
    String guest = host.register(Guests.wasm());
    StateFormat.Decoded d = startWithOneDelta(host, guest, "a");
    host.compact("a");
    StateFormat.Decoded full = StateFormat.decode(store.load("a").orElseThrow().bytes(), "a");
    Path dir = store.root().resolve("tasks").resolve("a");
    for (Path p : Files.list(dir).toList()) {
      Files.delete(p);
    }
    long start = Long.MAX_VALUE - 9; // 9223372036854775798
    Files.write(
        dir.resolve(String.format("%020d.state", start)),
        StateFormat.encode(
            StateFormat.FULL, d.guestHash(), start, false, full.value(), "a", full.state()));
    assertEquals(start, host.status("a").generation());
    for (long g = start; g < Long.MAX_VALUE; g++) {
      TaskStatus st = Guests.answerNext(host, "a");
      assertEquals(g + 1, st.generation());
      assertEquals(g + 1, host.status("a").generation(), "the step saved at " + (g + 1));
    }
    InvalidState e = assertThrows(InvalidState.class, () -> Guests.answerNext(host, "a"));
    assertTrue(e.getMessage().contains("the last there is"), e.getMessage());
    assertThrows(InvalidState.class, () -> host.compact("a"));
    assertEquals(Long.MAX_VALUE, host.status("a").generation());
    assertThrows(
        IllegalArgumentException.class, () -> store.save("a", Long.MAX_VALUE, new byte[1]));
    assertThrows(
        IllegalArgumentException.class, () -> store.saveDelta("a", Long.MAX_VALUE, new byte[1]));
    assertEquals(Long.MAX_VALUE, host.status("a").generation());

    // Generation 0 is no generation.
    Files.createDirectories(store.root().resolve("tasks").resolve("z"));
    Files.write(
        store.root().resolve("tasks").resolve("z").resolve(String.format("%020d.state", 0)),
        StateFormat.encode(StateFormat.FULL, d.guestHash(), 0, false, 0, "z", full.state()));
    e = assertThrows(InvalidState.class, () -> host.status("z"));
    assertTrue(e.getMessage().contains("generations start at 1"), e.getMessage());
  }

  /**
   * A step in flight while its task is deleted and started again, under the same name, up to the
   * same generation: the store's compare-and-swap (on the generation) lets its delta in, computed
   * against the old task. The delta names the full state it follows, so loading refuses it instead
   * of mixing two tasks.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void aDeltaOfATaskDeletedAndStartedAgainIsRefusedNotMixed(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = host(s.store());
      String guest = host.register(Guests.wasm());
      Guests.start(host, guest, "a", 3, 8);
      TaskStatus old =
          host.step(
              "a",
              g -> {
                g.call("on_response", 0, 1000);
                assertTrue(host.delete("a"));
                Guests.start(host, guest, "a", 5, 4096);
              });
      assertEquals(2, old.generation());
      InvalidState e = assertThrows(InvalidState.class, () -> host.status("a"));
      assertEquals(Reason.STALE, e.reason(), e.getMessage());
      assertTrue(e.getMessage().contains("follows another full state"), e.getMessage());
      assertThrows(InvalidState.class, () -> Guests.answerNext(host, "a"));
      assertThrows(InvalidState.class, () -> host.compact("a"));
      // The task can be deleted and started again.
      assertTrue(host.delete("a"));
      TaskStatus st = Guests.start(host, guest, "a", 5, 4096);
      while (!st.done()) {
        st = Guests.answerNext(host, "a");
      }
      assertEquals(Guests.uninterrupted(5, 4096).result(), st.result());
    }
  }

  @Test
  void aNewTaskNeverFindsTheDeltasOfAnInterruptedDelete() throws Exception {
    DirectoryStore store = new DirectoryStore(tmp.resolve("store"));
    store.save("t", 0, new byte[] {1});
    store.saveDelta("t", 1, new byte[] {2});
    store.saveDelta("t", 2, new byte[] {3});
    // What an interrupted delete of a store from before deletes were atomic leaves: deltas and
    // no full state.
    Files.delete(store.root().resolve("tasks/t/00000000000000000001.state"));
    assertTrue(store.load("t").isEmpty());
    assertEquals(1, store.save("t", 0, new byte[] {9}));
    SnapshotStore.Stored st = store.load("t").orElseThrow();
    assertEquals(1, st.generation());
    assertEquals(List.of(), st.deltas());
    // A delete leaves nothing of the task under its name, and no task shows in its place.
    store.saveDelta("t", 1, new byte[] {4});
    assertTrue(store.delete("t", -1));
    try (var files = Files.list(store.root().resolve("tasks"))) {
      assertEquals(List.of(), files.toList());
    }
    assertEquals(List.of(), store.list());

    // A delete that a crash interrupted after its rename: not a task, and gone at the next open.
    Path gone = store.root().resolve("tasks/.deleted-t-17");
    Files.createDirectories(gone);
    Files.write(gone.resolve("00000000000000000002.delta"), new byte[] {2});
    assertEquals(List.of(), store.list());
    assertThrows(IllegalArgumentException.class, () -> store.load(".deleted-t-17"));
    new DirectoryStore(store.root());
    assertFalse(Files.exists(gone));
  }

  @Test
  void filesACrashLeftBehindAreIgnoredAndRemovedByTheNextFullSave() throws Exception {
    DirectoryStore store = new DirectoryStore(tmp.resolve("store"));
    DurableHost host = host(store);
    String guest = host.register(Guests.wasm());
    startWithOneDelta(host, guest, "a"); // full 1, delta 2
    Path dir = store.root().resolve("tasks").resolve("a");
    Path full = dir.resolve("00000000000000000001.state");
    Path delta = dir.resolve("00000000000000000002.delta");
    // What a crash after a full save's rename, before its deletions, leaves: the new full state
    // beside the old one and the deltas it replaced.
    byte[] next = store.load("a").orElseThrow().bytes();
    Files.copy(full, dir.resolve("00000000000000000000.state.keep"));
    TaskStatus compacted = host.compact("a"); // full 3
    Files.move(dir.resolve("00000000000000000000.state.keep"), full);
    Files.write(delta, next); // an old delta, not a delta any more
    Files.createDirectory(dir.resolve("00000000000000000001.delta")); // not a file: left alone
    assertEquals(3, compacted.generation());
    assertEquals(3, host.status("a").generation());
    assertTrue(store.load("a").orElseThrow().deltas().isEmpty());

    // The next full save removes the old files (not the directory); the task goes on.
    DurableHost fullSaves = DurableHost.builder().store(store).deltaBytes(0).build();
    assertEquals(4, Guests.answerNext(fullSaves, "a").generation());
    try (var files = Files.list(dir)) {
      assertEquals(
          List.of("00000000000000000001.delta", "00000000000000000004.state"),
          files.map(f -> f.getFileName().toString()).sorted().toList());
    }
  }

  @Test
  void junkFilesInATaskDirectoryAreIgnoredGapsAndDirectoriesRefused() throws Exception {
    DirectoryStore store = new DirectoryStore(tmp.resolve("store"));
    DurableHost host = host(store);
    String guest = host.register(Guests.wasm());
    startWithOneDelta(host, guest, "a");
    Guests.answerNext(host, "a"); // full 1, deltas 2 and 3
    Path dir = store.root().resolve("tasks").resolve("a");
    byte[] junk = "junk".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    for (String name :
        List.of(
            "4.delta",
            "00000000000000000004.delta.bak",
            "0000000000000000000x.delta",
            "+0000000000000000004.delta",
            "-0000000000000000004.delta",
            "000000000000000000004.delta",
            "00000000000000000004.DELTA",
            "\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660"
                + "\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0664.delta",
            "99999999999999999999.delta",
            "99999999999999999999.state",
            "00000000000000000000.delta",
            ".tmp-4")) {
      Files.write(dir.resolve(name), junk);
    }
    Files.createDirectory(dir.resolve("00000000000000000001.delta")); // older than nothing useful
    assertEquals(3, host.status("a").generation());
    TaskStatus st = Guests.answerNext(host, "a");
    assertEquals(4, st.generation());

    // A delta after a gap, and a directory where the next delta belongs: refused, not skipped.
    Files.write(dir.resolve("00000000000000000006.delta"), junk);
    StoreFailure f = assertThrows(StoreFailure.class, () -> host.status("a"));
    assertTrue(f.getMessage().contains("skip generation 5"), f.getMessage());
    assertThrows(StoreFailure.class, () -> Guests.answerNext(host, "a"));
    Files.delete(dir.resolve("00000000000000000006.delta"));
    Files.createDirectory(dir.resolve("00000000000000000005.delta"));
    f = assertThrows(StoreFailure.class, () -> host.status("a"));
    assertTrue(f.getMessage().contains("not a regular file"), f.getMessage());
    Files.delete(dir.resolve("00000000000000000005.delta"));

    while (!st.done()) {
      st = Guests.answerNext(host, "a");
    }
    assertEquals(Guests.uninterrupted(10, FILL).result(), st.result());
  }

  /**
   * Symbolic links planted in the store. Before the store refused them, deleting a task whose
   * directory was a link deleted every file in the directory it pointed to, and a delta linked to a
   * FIFO made a load block for ever (to /dev/zero: read until out of memory).
   */
  @Test
  void symbolicLinksInTheStoreAreRefusedAndNothingOutsideIsTouched() throws Exception {
    DirectoryStore store = new DirectoryStore(tmp.resolve("store"));
    DurableHost host = host(store);
    String guest = host.register(Guests.wasm());
    startWithOneDelta(host, guest, "a");
    startWithOneDelta(host, guest, "b");
    Path tasks = store.root().resolve("tasks");

    // A task directory that is a link to a directory outside the store.
    Path outside = Files.createDirectories(tmp.resolve("outside"));
    for (Path p : Files.list(tasks.resolve("b")).toList()) {
      Files.copy(p, outside.resolve(p.getFileName()));
    }
    Files.writeString(outside.resolve("precious.txt"), "keep me");
    Files.createSymbolicLink(tasks.resolve("c"), outside);
    StoreFailure f = assertThrows(StoreFailure.class, () -> host.status("c"));
    assertTrue(f.getMessage().contains("is a symbolic link"), f.getMessage());
    assertThrows(StoreFailure.class, () -> host.delete("c"));
    assertThrows(StoreFailure.class, () -> Guests.answerNext(host, "c"));
    assertEquals("keep me", Files.readString(outside.resolve("precious.txt")));
    assertEquals(3, Files.list(outside).count(), "nothing written or deleted outside the store");
    assertEquals(List.of("a", "b"), host.list().stream().map(t -> t.task()).toList());

    // A delta that is a link: to a state outside, to a device, to a FIFO.
    Path delta3 = tasks.resolve("a").resolve("00000000000000000003.delta");
    List<Path> targets = new ArrayList<>();
    targets.add(outside.resolve("00000000000000000002.delta"));
    if (Files.isReadable(Path.of("/dev/zero"))) {
      targets.add(Path.of("/dev/zero"));
    }
    Path fifo = tmp.resolve("fifo");
    boolean made = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor() == 0;
    if (made) {
      targets.add(fifo);
    }
    for (Path target : targets) {
      Files.deleteIfExists(delta3);
      Files.createSymbolicLink(delta3, target);
      StoreFailure e =
          assertTimeoutPreemptively(
              Duration.ofSeconds(20),
              () -> assertThrows(StoreFailure.class, () -> host.status("a")),
              target.toString());
      assertTrue(e.getMessage().contains("is a symbolic link"), e.getMessage());
    }
    // A FIFO in place of a delta, not a link: refused without opening it.
    Files.deleteIfExists(delta3);
    if (made) {
      Files.move(fifo, delta3);
      StoreFailure e =
          assertTimeoutPreemptively(
              Duration.ofSeconds(20),
              () -> assertThrows(StoreFailure.class, () -> host.status("a")));
      assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
      Files.delete(delta3);
    }
    // A link as the task's lock file is not followed either.
    Path lock = store.root().resolve("locks").resolve("a.lock");
    Files.deleteIfExists(lock);
    Path lockTarget = tmp.resolve("outside-lock");
    Files.createSymbolicLink(lock, lockTarget);
    assertThrows(StoreFailure.class, () -> Guests.answerNext(host, "a"));
    assertFalse(Files.exists(lockTarget), "a file was created outside the store");
    Files.delete(lock);
    assertEquals(3, Guests.answerNext(host, "a").generation());
  }

  /**
   * Workers stepping one task while another compacts it: every generation is saved once (by a step
   * or a compaction), the losers get {@link Conflict} and retry, and the task ends exactly like an
   * uninterrupted run: no answer lost, none applied twice.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void stepsAndCompactionsAtOnceLoseNothing(Stores.Kind kind) throws Exception {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = DurableHost.builder().store(s.store()).maxMemoryPages(LIMIT).build();
      String guest = host.register(Guests.wasm());
      int n = 40;
      Guests.start(host, guest, "shared", n, FILL);
      ConcurrentLinkedQueue<Long> saved = new ConcurrentLinkedQueue<>();
      ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
      AtomicInteger answers = new AtomicInteger();
      AtomicInteger conflicts = new AtomicInteger();
      AtomicInteger compactions = new AtomicInteger();
      AtomicBoolean done = new AtomicBoolean();
      List<Thread> threads = new ArrayList<>();
      for (int w = 0; w < 3; w++) {
        threads.add(
            new Thread(
                () -> {
                  try {
                    while (!done.get()) {
                      try {
                        TaskStatus st = Guests.answerNext(host, "shared");
                        saved.add(st.generation());
                        answers.incrementAndGet();
                        if (st.done()) {
                          done.set(true);
                        }
                      } catch (Conflict e) {
                        conflicts.incrementAndGet();
                      } catch (IllegalStateException e) {
                        // the task was done when this worker loaded it
                        if (!host.status("shared").done()) {
                          throw e;
                        }
                        done.set(true);
                      }
                    }
                  } catch (Throwable t) {
                    failures.add(t);
                    done.set(true);
                  }
                }));
      }
      // The compacting worker's host counts the full states it saved: compact() saves nothing
      // when it finds no deltas, and a generation read before it cannot tell the two apart.
      SnapshotStore counting =
          new ForwardingStore(s.store()) {
            @Override
            public long save(String task, long expectedGeneration, byte[] bytes) {
              long g = super.save(task, expectedGeneration, bytes);
              compactions.incrementAndGet();
              return g;
            }
          };
      DurableHost compactor = DurableHost.builder().store(counting).maxMemoryPages(LIMIT).build();
      threads.add(
          new Thread(
              () -> {
                try {
                  while (!done.get()) {
                    try {
                      compactor.compact("shared");
                    } catch (Conflict e) {
                      conflicts.incrementAndGet();
                    }
                  }
                } catch (Throwable t) {
                  failures.add(t);
                  done.set(true);
                }
              }));
      threads.forEach(Thread::start);
      for (Thread t : threads) {
        t.join(120_000);
        assertFalse(t.isAlive(), "a worker did not finish");
      }
      assertTrue(failures.isEmpty(), failures.toString());
      assertEquals(n, answers.get(), "each answer saved exactly once");
      // No two steps saved the same generation (a compaction that did would have lost an answer,
      // which the comparison with an uninterrupted run below shows).
      String counts = "conflicts " + conflicts + ", compactions " + compactions;
      assertEquals(
          n, saved.stream().distinct().count(), "steps' generations " + saved + "; " + counts);
      long last = s.store().load("shared").orElseThrow().generation();
      assertTrue(last >= n + 1 + compactions.get(), last + "; " + counts);
      TaskStatus st = host.status("shared");
      assertTrue(st.done());
      Guests.Reference ref = Guests.uninterrupted(n, FILL);
      assertEquals(ref.result(), st.result());
      Instance out = Instance.builder(Parser.parse(host.materialize("shared"))).build();
      assertEquals(ref.ballastHash(), out.export("ballast_hash").apply()[0]);
    }
  }

  /** A store that passes every call to another. */
  private static class ForwardingStore implements SnapshotStore {
    private final SnapshotStore to;

    ForwardingStore(SnapshotStore to) {
      this.to = to;
    }

    @Override
    public java.util.Optional<Stored> load(String task) {
      return to.load(task);
    }

    @Override
    public long save(String task, long expectedGeneration, byte[] bytes) {
      return to.save(task, expectedGeneration, bytes);
    }

    @Override
    public boolean supportsDeltas() {
      return to.supportsDeltas();
    }

    @Override
    public long saveDelta(String task, long expectedGeneration, byte[] delta) {
      return to.saveDelta(task, expectedGeneration, delta);
    }

    @Override
    public List<TaskInfo> list() {
      return to.list();
    }

    @Override
    public boolean delete(String task, long expectedGeneration) {
      return to.delete(task, expectedGeneration);
    }

    @Override
    public void putGuest(String hash, byte[] wasm) {
      to.putGuest(hash, wasm);
    }

    @Override
    public java.util.Optional<byte[]> loadGuest(String hash) {
      return to.loadGuest(hash);
    }

    @Override
    public List<String> guests() {
      return to.guests();
    }
  }
}
