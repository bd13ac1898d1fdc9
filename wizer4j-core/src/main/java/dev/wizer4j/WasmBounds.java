package dev.wizer4j;

import java.util.Objects;

/**
 * The check wizer4j makes before any runtime's parser sees a module: every section in order and at
 * most once, and every declared count and length within the bytes that remain, so that a few bytes
 * cannot make a parser allocate gigabytes. {@link Wizer} applies it to its input; a runtime applies
 * it to every other module it parses for a run (preloads).
 */
public final class WasmBounds {
  private WasmBounds() {}

  /**
   * Walks {@code wasm}'s sections and the vectors inside them without allocating for their declared
   * sizes.
   *
   * @throws WizerException.InvalidModule naming the byte offset of the first count or length that
   *     does not fit, or of anything else malformed the walk meets
   * @throws WizerException.Unsupported for a component, or memories and tables the runtime cannot
   *     hold
   */
  public static void check(byte[] wasm) {
    Parse.read(Objects.requireNonNull(wasm, "wasm"));
  }
}
