package dev.wizer4j.examples.durablerpc;

/** A failed step, with a message that can be shown as it is: one line, naming the file. */
final class HostException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  HostException(String message) {
    super(message);
  }

  HostException(String message, Throwable cause) {
    super(message, cause);
  }
}
