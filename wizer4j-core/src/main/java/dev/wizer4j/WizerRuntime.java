package dev.wizer4j;

/**
 * Runs a module's initialization for {@link Wizer#run(byte[])}. The {@code wizer4j-endive} module
 * provides one for Endive, found through {@link java.util.ServiceLoader}; another can be set with
 * {@link Wizer.Builder#runtime(WizerRuntime)}.
 */
public interface WizerRuntime {

  /**
   * Instantiates {@code cx}'s module (its start function runs, {@code _start} does not), calls
   * {@code _initialize} if it is exported, then {@code config.initFunc()} (once, even if it is
   * {@code _initialize}), and returns the instance's state for the snapshot.
   *
   * @throws WizerException.InitFailed if instantiation or initialization fails
   */
  InstanceState initialize(ModuleContext cx, Wizer config);
}
