package dev.wizer4j;

import java.util.function.Function;

/**
 * The state of a live instance of an instrumented module, as the snapshotter sees it. The
 * snapshotter never needs the runtime that produced the state: it asks for globals and memories by
 * their instrumentation export names ({@code __wizer_global_<i>}, {@code __wizer_memory_<j>}). A
 * Endive instance is one implementation; a saved state file or another runtime can be another.
 */
public interface InstanceState {

  /**
   * Reads the global exported as {@code exportName}; its type is {@code type}.
   *
   * @throws WizerException if there is no such global or it has another type
   */
  GlobalValue global(String exportName, GlobalValue.Type type);

  /**
   * Lends the bytes of the memory exported as {@code exportName} to {@code reader} and returns what
   * it returns. The image is only valid during the call, and the instance must not run meanwhile.
   *
   * @throws WizerException if there is no such memory
   */
  <R> R memory(String exportName, Function<MemoryImage, R> reader);
}
