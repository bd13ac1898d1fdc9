package dev.wizer4j.cli;

import dev.wizer4j.Progress;
import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The default progress report: silent for a run that ends within {@link #QUIET_NANOS}; after that,
 * one stderr line when a stage starts and one every {@link #REPEAT_NANOS} while a stage lasts, e.g.
 * {@code wizer4j: running componentize.wizer... 30 s} (seconds since the run started). Tools that
 * show a child's stderr only when it fails still show a user that a ten-minute init is alive.
 */
final class HeartbeatProgress implements Progress, AutoCloseable {
  /** Runs shorter than this print nothing: most pre-initializations take well under a second. */
  static final long QUIET_NANOS = TimeUnit.SECONDS.toNanos(2);

  /**
   * While one stage lasts, a line this often: often enough to look alive, rare enough for a log.
   */
  static final long REPEAT_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** How often the timer looks; a line is at most this late. */
  private static final long TICK_MILLIS = 250;

  private final PrintStream err;
  private final LongSupplier nanoTime;
  private final long start;
  private final ScheduledExecutorService timer;
  private String stage;
  private boolean stageShown;
  private long lastLine;
  private boolean closed;

  /** A heartbeat on the real clock, with a daemon timer thread. */
  static HeartbeatProgress start(PrintStream err) {
    HeartbeatProgress p = new HeartbeatProgress(err, System::nanoTime, timerThread());
    p.timer.scheduleWithFixedDelay(p::tick, TICK_MILLIS, TICK_MILLIS, TimeUnit.MILLISECONDS);
    return p;
  }

  /** For tests: {@code nanoTime} is the clock, and the caller calls {@link #tick()}. */
  HeartbeatProgress(PrintStream err, LongSupplier nanoTime) {
    this(err, nanoTime, null);
  }

  private HeartbeatProgress(
      PrintStream err, LongSupplier nanoTime, ScheduledExecutorService timer) {
    this.err = err;
    this.nanoTime = nanoTime;
    this.start = nanoTime.getAsLong();
    this.timer = timer;
  }

  private static ScheduledExecutorService timerThread() {
    return Executors.newSingleThreadScheduledExecutor(
        r -> {
          Thread t = new Thread(r, "wizer4j-heartbeat");
          t.setDaemon(true); // never keeps the JVM alive
          return t;
        });
  }

  @Override
  public synchronized void stage(String name) {
    stage = name;
    stageShown = false;
    tick();
  }

  /** Notes are detail for {@code -v}; the heartbeat only says that the run is alive. */
  @Override
  public void note(String message) {}

  /** Prints a line if one is due. */
  synchronized void tick() {
    if (closed || stage == null) {
      return;
    }
    long now = nanoTime.getAsLong();
    if (now - start < QUIET_NANOS) {
      return;
    }
    if (!stageShown || now - lastLine >= REPEAT_NANOS) {
      err.printf(
          Locale.ROOT,
          "wizer4j: %s... %d s%n",
          label(stage),
          TimeUnit.NANOSECONDS.toSeconds(now - start));
      err.flush();
      stageShown = true;
      lastLine = now;
    }
  }

  /** {@code call init} reads better as {@code running init}. */
  private static String label(String stage) {
    return stage.startsWith("call ") ? "running " + stage.substring("call ".length()) : stage;
  }

  /** The run is over: no line after this one returns. */
  @Override
  public synchronized void close() {
    closed = true;
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
