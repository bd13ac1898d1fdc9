package dev.wizer4j.cli;

import dev.wizer4j.Progress;
import java.io.PrintStream;
import java.util.Locale;

/** {@code -v}: one line per finished stage with its time, and the notes of each stage. */
final class VerboseProgress implements Progress {
  private final PrintStream err;
  private String stage;
  private long started;

  VerboseProgress(PrintStream err) {
    this.err = err;
  }

  @Override
  public synchronized void stage(String name) {
    finish();
    stage = name;
    started = System.nanoTime();
  }

  @Override
  public synchronized void note(String message) {
    err.println("wizer4j:   " + message);
  }

  /** Ends the current stage, printing its time. */
  synchronized void finish() {
    if (stage != null) {
      err.printf(
          Locale.ROOT, "wizer4j: %-40s %8.1f ms%n", stage, (System.nanoTime() - started) / 1e6);
      stage = null;
    }
  }
}
