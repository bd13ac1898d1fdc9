package dev.wizer4j;

/**
 * Where a long run reports what it is doing: the pipeline and the runtime announce each stage as it
 * starts (the previous one ends there), and notes worth showing to a user who asked for detail.
 * Implementations must be cheap and must not throw; they may be called from any thread.
 */
public interface Progress {
  /** Reports nothing. */
  Progress SILENT =
      new Progress() {
        @Override
        public void stage(String name) {}

        @Override
        public void note(String message) {}
      };

  /** A stage starts, e.g. {@code "parse and validate"}, {@code "call wizer-initialize"}. */
  void stage(String name);

  /** A detail of the current stage, e.g. which engine was chosen and why. */
  void note(String message);
}
