package dev.wizer4j.cli;

import java.io.IOException;

/** A user error found by the command line itself: one {@code error:} line, status 1. */
class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  CliException(String message) {
    super(message);
  }

  /** A bad command line: exit status 2, like an option picocli itself rejects. */
  static final class UsageException extends CliException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }

    /**
     * Runs a builder call; the builder's argument check (an {@link IllegalArgumentException} that
     * names the argument, such as a duplicated rename) becomes a usage error with its message.
     */
    static void check(Runnable builderCall) {
      try {
        builderCall.run();
      } catch (IllegalArgumentException e) {
        throw new UsageException(e.getMessage());
      }
    }
  }

  /** An I/O error as a reason: the JDK's file exceptions carry only the path as message. */
  static String describe(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
