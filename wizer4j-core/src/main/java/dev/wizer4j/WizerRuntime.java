package dev.wizer4j;

/**
 * Runs a module's initialization for {@link Wizer#run(byte[])}: the runtime owns everything about
 * linking and executing (WASI, preloads, stdio, engines), and the pipeline owns the rest. The
 * {@code wizer4j-endive} module provides one for Endive, found through {@link
 * java.util.ServiceLoader} when {@link Wizer.Builder#runtime(WizerRuntime)} sets none.
 */
public interface WizerRuntime {

  /**
   * Instantiates {@code cx}'s module (its start function runs, {@code _start} does not), calls
   * {@code _initialize} if it is exported, then {@code initFunc} (once, even if it is {@code
   * _initialize}), and returns the instance's state for the snapshot. {@code cx} is validated and
   * checked; {@link ModuleContext#decoded(Class)} and {@link ModuleContext#instrumentedBytes()}
   * give the module in the form the runtime needs.
   *
   * @throws WizerException.InitFailed if instantiation or initialization fails
   * @throws WizerException.Unsupported if the module exceeds what this runtime can run
   */
  InstanceState initialize(ModuleContext cx, String initFunc, Progress progress);
}
