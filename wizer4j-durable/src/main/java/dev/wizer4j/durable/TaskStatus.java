package dev.wizer4j.durable;

import java.time.Instant;

/**
 * Where a task stands, as its stored (and verified) state says: known without running the guest.
 *
 * @param task the task's name
 * @param generation the stored generation (1 after the first save, +1 per step)
 * @param guest the SHA-256 of the guest module the state belongs to, in hex
 * @param done whether the guest said it is done
 * @param value the request the guest waits for while not done; its result once done
 * @param size the bytes the task takes in the store: its full state and its deltas
 * @param updated when the store last wrote the state
 */
public record TaskStatus(
    String task,
    long generation,
    String guest,
    boolean done,
    long value,
    long size,
    Instant updated) {

  /** The request the guest waits for. */
  public long request() {
    if (done) {
      throw new IllegalStateException("task `" + task + "` is done, it waits for nothing");
    }
    return value;
  }

  /** The guest's result. */
  public long result() {
    if (!done) {
      throw new IllegalStateException("task `" + task + "` is not done");
    }
    return value;
  }

  /** One line, for people: {@code task 7: waiting for request 3 (generation 4, 2081 bytes)}. */
  public String describe() {
    String where = " (generation " + generation + ", " + size + " bytes)";
    return done
        ? "task " + task + ": done, result " + value + where
        : "task " + task + ": waiting for request " + value + where;
  }
}
