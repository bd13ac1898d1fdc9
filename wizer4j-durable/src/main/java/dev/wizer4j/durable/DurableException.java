package dev.wizer4j.durable;

/**
 * Base of the errors of durable execution. Every message names the task (or guest) and says what
 * happened, so that a host can show it as it is. A step that ends in any of these changed nothing
 * in the store.
 */
public class DurableException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public DurableException(String message) {
    super(message);
  }

  public DurableException(String message, Throwable cause) {
    super(message, cause);
  }

  /**
   * A compare-and-swap save lost: the stored generation is no longer the one the caller loaded
   * (another worker saved first), or a task that should be new already exists.
   */
  public static final class Conflict extends DurableException {
    private static final long serialVersionUID = 1L;
    private final String task;
    private final long expected;
    private final long actual;

    public Conflict(String task, long expected, long actual) {
      super(
          "task `"
              + task
              + "`: conflict, "
              + (expected == 0 ? "expected a new task" : "expected generation " + expected)
              + " but the store has "
              + (actual == 0 ? "no such task" : "generation " + actual)
              + "; nothing was saved");
      this.task = task;
      this.expected = expected;
      this.actual = actual;
    }

    public String task() {
      return task;
    }

    /** The generation the caller loaded (0: none, the task was to be created). */
    public long expected() {
      return expected;
    }

    /** The generation found in the store (0: no such task). */
    public long actual() {
      return actual;
    }
  }

  /** No state is stored for the task. */
  public static final class NoSuchTask extends DurableException {
    private static final long serialVersionUID = 1L;

    public NoSuchTask(String task) {
      super("no task `" + task + "` in the store");
    }
  }

  /**
   * A stored state (or guest) was refused before anything ran: it does not verify. {@link
   * #reason()} says which check failed.
   */
  public static final class InvalidState extends DurableException {
    private static final long serialVersionUID = 1L;

    /** Which check a stored state failed. */
    public enum Reason {
      /** Not a state file at all, or of a format version this library does not read. */
      FORMAT,
      /** Checksum mismatch, or the length does not match the contents (truncated or extended). */
      CORRUPT,
      /** The state belongs to another guest than the one stored for it, or that guest is gone. */
      OTHER_GUEST,
      /** The state carries another task's id. */
      OTHER_TASK,
      /** The state's generation is not the one the store holds it under (an older copy). */
      STALE,
      /** Well-formed, but does not fit its guest (globals, memory sizes, segments, limits). */
      DOES_NOT_FIT,
      /** The stored guest module itself does not verify. */
      BAD_GUEST
    }

    private final Reason reason;

    public InvalidState(Reason reason, String message) {
      super(message);
      this.reason = reason;
    }

    public InvalidState(Reason reason, String message, Throwable cause) {
      super(message, cause);
      this.reason = reason;
    }

    public Reason reason() {
      return reason;
    }
  }

  /** The guest trapped, broke its contract, or refused what was delivered. */
  public static final class GuestFailed extends DurableException {
    private static final long serialVersionUID = 1L;

    public GuestFailed(String message) {
      super(message);
    }

    public GuestFailed(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The store could not be read or written (I/O, SQL). */
  public static final class StoreFailure extends DurableException {
    private static final long serialVersionUID = 1L;

    public StoreFailure(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
