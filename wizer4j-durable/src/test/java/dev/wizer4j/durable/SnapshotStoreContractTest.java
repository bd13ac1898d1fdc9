package dev.wizer4j.durable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wizer4j.durable.DurableException.Conflict;
import dev.wizer4j.durable.SnapshotStore.Stored;
import dev.wizer4j.durable.SnapshotStore.TaskInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The {@link SnapshotStore} contract on raw bytes, against every store: full states and deltas,
 * generations, compare-and-swap conflicts that write nothing, and loads that see one moment while
 * others write. Cases about deltas run only on stores that keep them, as assumptions, so that a
 * skip shows.
 *
 * <p>Every stored array says what it is ({@link #FULL} or {@link #DELTA}), which generation it was
 * saved as, and which writer wrote it, and is filled with a byte derived from those: a load that
 * mixes two moments, or returns a torn value, fails {@link #checkConsistent}.
 */
class SnapshotStoreContractTest {
  private static final byte FULL = 'F';
  private static final byte DELTA = 'D';
  private static final int HEADER = 1 + 8 + 4;

  @TempDir Path tmp;

  static Stream<Stores.Kind> kinds() {
    return Stores.kinds();
  }

  /** A value of {@code size} bytes (at least the header) saying what it is. */
  private static byte[] value(byte kind, long generation, int writer, int size) {
    ByteBuffer b = ByteBuffer.allocate(Math.max(size, HEADER));
    b.put(kind).putLong(generation).putInt(writer);
    byte fill = (byte) (kind * 31 + generation * 7 + writer);
    while (b.hasRemaining()) {
      b.put(fill);
    }
    return b.array();
  }

  private static byte[] full(long generation) {
    return value(FULL, generation, 0, 64);
  }

  private static byte[] delta(long generation) {
    return value(DELTA, generation, 0, 16);
  }

  /** Checks that {@code bytes} is a whole value of this kind and generation; returns its writer. */
  private static int check(byte[] bytes, byte kind, long generation, String what) {
    ByteBuffer b = ByteBuffer.wrap(bytes);
    assertTrue(bytes.length >= HEADER, what + ": " + bytes.length + " bytes");
    assertEquals((char) kind, (char) b.get(), what + ": kind");
    assertEquals(generation, b.getLong(), what + ": generation");
    int writer = b.getInt();
    byte fill = (byte) (kind * 31 + generation * 7 + writer);
    while (b.hasRemaining()) {
      assertEquals(fill, b.get(), what + ": byte " + (b.position() - 1));
    }
    return writer;
  }

  /** The full state is of the full generation, each delta of the generation after the last. */
  private static void checkConsistent(Stored s) {
    long g = s.fullGeneration();
    assertTrue(g >= 1, "full generation " + g + " of " + s.generation());
    check(s.bytes(), FULL, g, "full state of generation " + s.generation());
    for (int i = 0; i < s.deltas().size(); i++) {
      check(s.deltas().get(i), DELTA, g + 1 + i, "delta " + i + " of generation " + s.generation());
    }
  }

  private static Stored load(SnapshotStore store, String task) {
    Stored s = store.load(task).orElseThrow(() -> new AssertionError("no task " + task));
    checkConsistent(s);
    return s;
  }

  private static void assertSameState(Stored expected, Stored actual) {
    assertEquals(expected.generation(), actual.generation());
    assertArrayEquals(expected.bytes(), actual.bytes());
    assertEquals(expected.deltas().size(), actual.deltas().size());
    for (int i = 0; i < expected.deltas().size(); i++) {
      assertArrayEquals(expected.deltas().get(i), actual.deltas().get(i), "delta " + i);
    }
  }

  private static SnapshotStore deltaStore(Stores.Opened s) {
    assumeTrue(
        s.store().supportsDeltas(), s.store().getClass().getSimpleName() + " keeps no deltas");
    return s.store();
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void fullSavesCountGenerationsAndLoadTheNewest(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = s.store();
      assertEquals(Optional.empty(), store.load("t"));
      assertEquals(1, store.save("t", 0, full(1)));
      assertEquals(2, store.save("t", 1, full(2)));
      Stored t = load(store, "t");
      assertEquals(2, t.generation());
      assertEquals(2, t.fullGeneration());
      assertEquals(List.of(), t.deltas());
      assertArrayEquals(full(2), t.bytes());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aStaleFullSaveConflictsAndWritesNothing(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = s.store();
      store.save("t", 0, full(1));
      store.save("t", 1, full(2));
      Stored before = load(store, "t");
      Conflict c = assertThrows(Conflict.class, () -> store.save("t", 1, full(2)));
      assertEquals(1, c.expected());
      assertEquals(2, c.actual());
      c = assertThrows(Conflict.class, () -> store.save("t", 0, full(1)));
      assertEquals(0, c.expected());
      assertEquals(2, c.actual());
      assertThrows(Conflict.class, () -> store.save("t", 7, full(8)));
      assertSameState(before, load(store, "t"));
      assertEquals(List.of(64L), store.list().stream().map(TaskInfo::size).toList());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void deltasFollowTheFullStateInOrder(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = deltaStore(s);
      store.save("t", 0, full(1));
      assertEquals(2, store.saveDelta("t", 1, delta(2)));
      assertEquals(3, store.saveDelta("t", 2, delta(3)));
      assertEquals(4, store.saveDelta("t", 3, delta(4)));
      Stored t = load(store, "t");
      assertEquals(4, t.generation());
      assertEquals(1, t.fullGeneration());
      assertArrayEquals(full(1), t.bytes());
      assertEquals(3, t.deltas().size());
      assertArrayEquals(delta(2), t.deltas().get(0));
      assertArrayEquals(delta(4), t.deltas().get(2));
      assertEquals(64 + 3 * 16, t.size());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aFullSaveDropsTheDeltas(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = deltaStore(s);
      store.save("t", 0, full(1));
      store.saveDelta("t", 1, delta(2));
      store.saveDelta("t", 2, delta(3));
      assertEquals(4, store.save("t", 3, full(4)));
      Stored t = load(store, "t");
      assertEquals(4, t.generation());
      assertEquals(List.of(), t.deltas());
      assertArrayEquals(full(4), t.bytes());
      // Deltas after the new full state start from it.
      assertEquals(5, store.saveDelta("t", 4, delta(5)));
      t = load(store, "t");
      assertEquals(4, t.fullGeneration());
      assertEquals(1, t.deltas().size());
      assertEquals(List.of(64L + 16), store.list().stream().map(TaskInfo::size).toList());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aDeltaOfAMissingTaskConflictsAndCreatesNothing(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = deltaStore(s);
      Conflict c = assertThrows(Conflict.class, () -> store.saveDelta("none", 3, delta(4)));
      assertEquals(3, c.expected());
      assertEquals(0, c.actual());
      c = assertThrows(Conflict.class, () -> store.saveDelta("none", 0, delta(1)));
      assertEquals(0, c.actual());
      assertEquals(Optional.empty(), store.load("none"));
      assertEquals(List.of(), store.list());
      // Nothing was left behind that a new task of that name would inherit.
      store.save("none", 0, full(1));
      assertEquals(List.of(), load(store, "none").deltas());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aStaleDeltaConflictsAndWritesNothing(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = deltaStore(s);
      store.save("t", 0, full(1));
      store.saveDelta("t", 1, delta(2));
      store.saveDelta("t", 2, delta(3));
      Stored before = load(store, "t");
      Conflict c = assertThrows(Conflict.class, () -> store.saveDelta("t", 2, delta(3)));
      assertEquals(2, c.expected());
      assertEquals(3, c.actual());
      assertThrows(Conflict.class, () -> store.saveDelta("t", 1, delta(2)));
      assertThrows(Conflict.class, () -> store.saveDelta("t", 4, delta(5)));
      assertThrows(Conflict.class, () -> store.save("t", 2, full(3)));
      assertThrows(Conflict.class, () -> store.save("t", 0, full(1)));
      assertSameState(before, load(store, "t"));
      assertEquals(List.of(64L + 2 * 16), store.list().stream().map(TaskInfo::size).toList());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void listCountsTheFullStateAndItsDeltas(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = deltaStore(s);
      store.save("b", 0, value(FULL, 1, 0, 100));
      store.saveDelta("b", 1, value(DELTA, 2, 0, 20));
      store.saveDelta("b", 2, value(DELTA, 3, 0, 30));
      store.save("a", 0, value(FULL, 1, 0, 50));
      List<TaskInfo> list = store.list();
      assertEquals(List.of("a", "b"), list.stream().map(TaskInfo::task).toList());
      assertEquals(List.of(1L, 3L), list.stream().map(TaskInfo::generation).toList());
      assertEquals(List.of(50L, 150L), list.stream().map(TaskInfo::size).toList());
      assertEquals(150, load(store, "b").size());
      store.save("b", 3, value(FULL, 4, 0, 40));
      assertEquals(List.of(50L, 40L), store.list().stream().map(TaskInfo::size).toList());
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void deleteRemovesTheDeltasAndANewTaskOfTheNameStartsWithout(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      SnapshotStore store = deltaStore(s);
      store.save("t", 0, full(1));
      store.saveDelta("t", 1, delta(2));
      store.saveDelta("t", 2, delta(3));
      Conflict c = assertThrows(Conflict.class, () -> store.delete("t", 2));
      assertEquals(3, c.actual());
      assertEquals(3, load(store, "t").generation());
      assertTrue(store.delete("t", 3));
      assertFalse(store.delete("t", -1));
      assertEquals(Optional.empty(), store.load("t"));
      assertEquals(List.of(), store.list());

      assertEquals(1, store.save("t", 0, full(1)));
      Stored t = load(store, "t");
      assertEquals(List.of(), t.deltas());
      assertEquals(2, store.saveDelta("t", 1, delta(2)));
      assertEquals(1, load(store, "t").deltas().size());
      assertTrue(store.delete("t", -1));
      assertEquals(Optional.empty(), store.load("t"));
    }
  }

  /**
   * Two writers, each with its own store on the same data (own connection, own directory handle),
   * save a delta from the same generation at once, many times over: every round exactly one wins,
   * the other gets a conflict naming the winner's generation, and the task holds the winners'
   * deltas in order.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void twoDeltasFromOneGenerationOneWinsEachTime(Stores.Kind kind) throws Exception {
    try (Stores.Opened s = Stores.open(kind, tmp);
        SnapshotStore other = Stores.fromSpec(s.spec())) {
      SnapshotStore store = deltaStore(s);
      List<SnapshotStore> writers = List.of(store, other);
      store.save("t", 0, full(1));
      int rounds = 25;
      List<Integer> winners = new ArrayList<>();
      CyclicBarrier start = new CyclicBarrier(2);
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        for (int round = 0; round < rounds; round++) {
          long g = 1 + round;
          List<Future<Boolean>> results = new ArrayList<>();
          for (int w = 0; w < 2; w++) {
            int writer = w;
            results.add(
                pool.submit(
                    () -> {
                      start.await(30, TimeUnit.SECONDS);
                      try {
                        writers
                            .get(writer)
                            .saveDelta("t", g, value(DELTA, g + 1, writer + 1, 16 + writer));
                        return true;
                      } catch (Conflict c) {
                        assertEquals(g, c.expected());
                        assertEquals(g + 1, c.actual());
                        return false;
                      }
                    }));
          }
          boolean first = results.get(0).get(60, TimeUnit.SECONDS);
          boolean second = results.get(1).get(60, TimeUnit.SECONDS);
          assertTrue(first ^ second, "round " + round + ": first " + first + ", second " + second);
          winners.add(first ? 1 : 2);
        }
      } finally {
        pool.shutdownNow();
      }
      Stored t = load(store, "t");
      assertEquals(1 + rounds, t.generation());
      List<Integer> stored = new ArrayList<>();
      for (int i = 0; i < rounds; i++) {
        stored.add(check(t.deltas().get(i), DELTA, 2 + i, "delta " + i));
      }
      assertEquals(winners, stored);
    }
  }

  /**
   * A reader loads in a loop, through its own store, while a writer saves deltas and, every fifth
   * save, a full state that drops them: every load is one moment (the full state of the full
   * generation, the deltas that followed it), and generations never go back.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void aReaderNeverSeesTwoMomentsMixed(Stores.Kind kind) throws Exception {
    try (Stores.Opened s = Stores.open(kind, tmp);
        SnapshotStore reader = Stores.fromSpec(s.spec())) {
      SnapshotStore store = deltaStore(s);
      store.save("t", 0, full(1));
      AtomicBoolean writing = new AtomicBoolean(true);
      ExecutorService pool = Executors.newSingleThreadExecutor();
      Future<Integer> reads =
          pool.submit(
              () -> {
                int n = 0;
                long last = 0;
                while (writing.get() || n == 0) {
                  Stored t = load(reader, "t");
                  assertTrue(t.generation() >= last, t.generation() + " after " + last);
                  last = t.generation();
                  n++;
                }
                return n;
              });
      try {
        for (long g = 1; g < 300 && !reads.isDone(); g++) {
          if (g % 5 == 0) {
            store.save("t", g, full(g + 1));
          } else {
            store.saveDelta("t", g, delta(g + 1));
          }
        }
      } finally {
        writing.set(false);
        pool.shutdown();
      }
      int n = reads.get(60, TimeUnit.SECONDS); // rethrows what the reader found
      assertTrue(n > 0);
      assertEquals(300, load(store, "t").generation());
    }
  }
}
