package dev.wizer4j;

/**
 * Base of the small family of errors wizer4j reports. Every message names what went wrong and where
 * (an export, an instruction, a byte offset), so that callers can show it as it is: it is always
 * one line ({@link Names#oneLine}), whatever names from the input or runtime texts it quotes.
 */
public class WizerException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public WizerException(String message) {
    super(Names.oneLine(message));
  }

  public WizerException(String message, Throwable cause) {
    super(Names.oneLine(message), cause);
  }

  /** The input is not a well-formed or valid core WebAssembly module. */
  public static final class InvalidModule extends WizerException {
    private static final long serialVersionUID = 1L;
    private final long offset;

    public InvalidModule(String message, long offset) {
      super(offset >= 0 ? message + String.format(" (at offset 0x%x)", offset) : message);
      this.offset = offset;
    }

    public InvalidModule(String message, Throwable cause) {
      super(message, cause);
      this.offset = -1;
    }

    /** The byte offset in the input where the problem was found, or -1 if unknown. */
    public long offset() {
      return offset;
    }
  }

  /** The module is valid WebAssembly but cannot be pre-initialized or snapshotted. */
  public static final class Unsupported extends WizerException {
    private static final long serialVersionUID = 1L;

    public Unsupported(String message) {
      super(message);
    }
  }

  /**
   * An {@link InstanceState} does not match the module it is said to be an instance of: a global or
   * memory is missing, has another type, or changed while it was being read.
   */
  public static final class StateMismatch extends WizerException {
    private static final long serialVersionUID = 1L;

    public StateMismatch(String message) {
      super(message);
    }

    public StateMismatch(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Instantiating the module or running its initialization failed. */
  public static final class InitFailed extends WizerException {
    private static final long serialVersionUID = 1L;

    public InitFailed(String message) {
      super(message);
    }

    public InitFailed(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
