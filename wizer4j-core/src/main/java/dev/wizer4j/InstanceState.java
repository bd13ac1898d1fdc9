package dev.wizer4j;

import java.util.function.Function;

/**
 * The state of a live instance of an instrumented module, as the snapshotter sees it. The
 * snapshotter never needs the runtime that produced the state: it asks for each defined mutable
 * global and each defined memory by its index in the module and by the name of its instrumentation
 * export ({@code __wizer_global_<i>}, {@code __wizer_memory_<j>}), and an implementation uses
 * whichever it can reach. An Endive instance is one implementation; a saved state or another
 * runtime can be another.
 */
public interface InstanceState {

  /**
   * Reads global {@code index} of the module, exported as {@code exportName}; its type is {@code
   * type}.
   *
   * @throws WizerException.InitFailed if there is no such global or it has another type
   */
  GlobalValue global(int index, String exportName, GlobalValue.Type type);

  /**
   * Lends the bytes of memory {@code index}, exported as {@code exportName}, to {@code reader} and
   * returns what it returns. The image is only valid during the call, and the instance must not run
   * meanwhile.
   *
   * @throws WizerException.InitFailed if there is no such memory
   */
  <R> R memory(int index, String exportName, Function<MemoryImage, R> reader);
}
