package dev.wizer4j.durable;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Where durable tasks live: per task, one full state and the deltas saved after it, each save a
 * compare-and-swap on the task's generation; guest modules stored once per hash. A store keeps
 * bytes; it never interprets them ({@link DurableHost} writes and verifies them), so a store can be
 * a directory, a database table, or anything else with an atomic conditional write.
 *
 * <p>Generations count saves: the first save of a task is generation 1, and every save, full
 * ({@link #save}) or delta ({@link #saveDelta}), adds one. A full save replaces the task's full
 * state and drops its deltas; a delta save keeps both and adds the delta after them. A store that
 * does not keep deltas says so with {@link #supportsDeltas()} and only ever gets full saves.
 *
 * <p>Task names are 1 to 128 characters of {@code [A-Za-z0-9._-]}, not starting with a dot ({@link
 * #checkTaskName}); guest hashes are 64 lowercase hex digits (SHA-256).
 *
 * <p>Implementations are safe to use from several threads, and from several processes sharing one
 * store.
 */
public interface SnapshotStore extends AutoCloseable {

  /**
   * A task's latest state as stored: the full state {@code bytes}, which is generation {@code
   * generation - deltas.size()}, and the deltas saved after it, oldest first, the last one being
   * generation {@code generation}.
   */
  record Stored(String task, long generation, byte[] bytes, List<byte[]> deltas, Instant updated) {
    public Stored {
      deltas = List.copyOf(deltas);
    }

    /** A task with no deltas. */
    public Stored(String task, long generation, byte[] bytes, Instant updated) {
      this(task, generation, bytes, List.of(), updated);
    }

    /** The generation of the full state. */
    public long fullGeneration() {
      return generation - deltas.size();
    }

    /** Bytes stored for the task: the full state and every delta. */
    public long size() {
      long n = bytes.length;
      for (byte[] d : deltas) {
        n += d.length;
      }
      return n;
    }
  }

  /**
   * One task, as {@link #list()} shows it: its newest generation, the bytes of its full state and
   * deltas, how many deltas it has, and when it was last saved.
   */
  record TaskInfo(String task, long generation, long size, int deltas, Instant updated) {}

  /** The task's latest state, or empty if there is none. */
  Optional<Stored> load(String task);

  /**
   * Stores {@code bytes} as the full state of generation {@code expectedGeneration + 1} of {@code
   * task}, dropping the task's deltas, only if the stored generation is still {@code
   * expectedGeneration} (0: the task must not exist yet). The write is atomic: a reader sees the
   * old state or the new one, never a part of one.
   *
   * @return the new generation
   * @throws DurableException.Conflict if the stored generation is another one; nothing is written
   */
  long save(String task, long expectedGeneration, byte[] bytes);

  /**
   * Whether this store keeps deltas ({@link #saveDelta}); false by default. A host writes only full
   * states to a store that does not.
   */
  default boolean supportsDeltas() {
    return false;
  }

  /**
   * Stores {@code delta} as generation {@code expectedGeneration + 1} of an existing task, after
   * its full state and the deltas it already has, only if the stored generation is still {@code
   * expectedGeneration}. Atomic and exclusive as {@link #save} is.
   *
   * @return the new generation
   * @throws DurableException.Conflict if the stored generation is another one, or the task does not
   *     exist; nothing is written
   * @throws UnsupportedOperationException if {@link #supportsDeltas()} is false
   */
  default long saveDelta(String task, long expectedGeneration, byte[] delta) {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " keeps no deltas");
  }

  /** Every task, sorted by name. */
  List<TaskInfo> list();

  /**
   * Deletes the task's state and deltas if its generation is still {@code expectedGeneration} (any
   * generation if it is negative).
   *
   * @return false if there was no such task
   * @throws DurableException.Conflict if the task is at another generation
   */
  boolean delete(String task, long expectedGeneration);

  /** Stores a guest module under its hash; storing the same guest again does nothing. */
  void putGuest(String hash, byte[] wasm);

  /** The guest module stored under {@code hash}, or empty. */
  Optional<byte[]> loadGuest(String hash);

  /** The hashes of every guest stored, sorted. */
  List<String> guests();

  @Override
  default void close() {}

  /**
   * Checks a task name: 1 to 128 characters of {@code [A-Za-z0-9._-]}, not starting with a dot, so
   * that it is a safe file name and SQL value everywhere.
   *
   * @throws IllegalArgumentException naming the problem
   */
  static String checkTaskName(String task) {
    if (task == null || task.isEmpty() || task.length() > 128) {
      throw new IllegalArgumentException(
          "task name must be 1 to 128 characters, got "
              + (task == null ? "null" : task.length() + " characters"));
    }
    if (task.charAt(0) == '.') {
      throw new IllegalArgumentException("task name must not start with a dot: `" + task + "`");
    }
    for (int i = 0; i < task.length(); i++) {
      char c = task.charAt(i);
      boolean ok =
          (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '.'
              || c == '_'
              || c == '-';
      if (!ok) {
        throw new IllegalArgumentException(
            "task name may only contain A-Z a-z 0-9 . _ -, got character "
                + String.format("U+%04X", (int) c)
                + " at "
                + i);
      }
    }
    return task;
  }

  /**
   * Checks the generation a save expects: 0 (a new task) up to {@code Long.MAX_VALUE - 1}, since
   * the save stores the next one.
   *
   * @return the generation the save stores
   * @throws IllegalArgumentException if it is out of that range
   */
  static long nextGeneration(long expectedGeneration) {
    if (expectedGeneration < 0 || expectedGeneration == Long.MAX_VALUE) {
      throw new IllegalArgumentException(
          "expectedGeneration must be within 0.."
              + (Long.MAX_VALUE - 1)
              + ": "
              + expectedGeneration);
    }
    return expectedGeneration + 1;
  }

  /**
   * Checks a guest hash: 64 lowercase hex digits.
   *
   * @throws IllegalArgumentException if it is not one
   */
  static String checkGuestHash(String hash) {
    if (hash == null || hash.length() != 64 || !hash.chars().allMatch(SnapshotStore::isHexDigit)) {
      throw new IllegalArgumentException("guest hash must be 64 lowercase hex digits");
    }
    return hash;
  }

  private static boolean isHexDigit(int c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  }
}
