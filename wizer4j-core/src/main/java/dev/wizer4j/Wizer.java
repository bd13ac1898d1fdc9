package dev.wizer4j;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.Set;

/**
 * The WebAssembly pre-initializer and snapshotter.
 *
 * <pre>{@code
 * Wizer wizer = Wizer.builder().initFunc("init").keepInstrumentation(true).build();
 * byte[] out = wizer.run(wasm);                       // validate, instrument, run, snapshot, rewrite
 * ModuleContext cx = wizer.parseInstrumented(out);    // validated, canonical exports checked
 * byte[] again = wizer.snapshot(cx, state);           // any live instance, any number of times
 * }</pre>
 *
 * <p>A {@code Wizer} holds what the pipeline needs (the init function, renames, what to keep); the
 * {@link WizerRuntime} holds everything about linking and running, configured on its own builder:
 *
 * <pre>{@code
 * Wizer wizer = Wizer.builder()
 *     .runtime(EndiveRuntime.builder().allowWasi(true).mapDir("/data", dir).build())
 *     .build();
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe; build one per configuration.
 */
public final class Wizer {
  public static final String DEFAULT_INIT_FUNC = "wizer-initialize";

  private final String initFunc;
  private final boolean keepInitFunc;
  private final List<Rename> renames;
  private final boolean keepInstrumentation;
  private final boolean instrumentedInput;
  private final Progress progress;
  private final WizerRuntime runtime;

  private Wizer(Builder b) {
    this.initFunc = b.initFunc;
    this.keepInitFunc = b.keepInitFunc;
    this.renames = List.copyOf(b.renames);
    this.keepInstrumentation = b.keepInstrumentation;
    this.instrumentedInput = b.instrumentedInput;
    this.progress = b.progress;
    this.runtime = b.runtime;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The export that {@link #run} calls to initialize a module. */
  public String initFunc() {
    return initFunc;
  }

  /**
   * Pre-initializes {@code wasm}: validates it, runs its initialization on the configured runtime
   * and returns the rewritten module. With {@link Builder#instrumentedInput(boolean)}, the input
   * must carry canonical instrumentation and the init function advances its state.
   */
  public byte[] run(byte[] wasm) {
    Objects.requireNonNull(wasm, "wasm");
    progress.stage("parse and validate");
    ModuleContext cx = ParseCache.parse(wasm, instrumentedInput);
    Check.initFunc(cx, initFunc);
    WizerRuntime rt = runtime != null ? runtime : defaultRuntime();
    InstanceState state;
    try {
      state = rt.initialize(cx, initFunc, progress);
    } catch (WizerException e) {
      throw e;
    } catch (RuntimeException e) {
      // A runtime's own exception must not reach the user as a Java class name.
      throw new WizerException.InitFailed(
          "initialization failed: " + Names.message(e, "internal error of the runtime"), e);
    }
    return snapshot(cx, state);
  }

  /** Validates {@code wasm} and returns it instrumented, with the context to snapshot it. */
  public Instrumented instrument(byte[] wasm) {
    Objects.requireNonNull(wasm, "wasm");
    ModuleContext cx = ParseCache.parse(wasm, false);
    return new Instrumented(cx, Instrument.instrument(cx));
  }

  /**
   * Validates a module that already carries instrumentation (for example the output of a run with
   * {@link Builder#keepInstrumentation(boolean)}) and checks that the instrumentation is exactly
   * canonical. The result can snapshot any number of live instances of it.
   */
  public ModuleContext parseInstrumented(byte[] wasm) {
    Objects.requireNonNull(wasm, "wasm");
    return ParseCache.parse(wasm, true);
  }

  /**
   * Snapshots {@code state}, an instance of {@code cx}'s module (instrumented) at any point between
   * calls, into a new module. The instance is only read; it can go on running and be snapshotted
   * again.
   */
  public byte[] snapshot(ModuleContext cx, InstanceState state) {
    Objects.requireNonNull(cx, "cx");
    Objects.requireNonNull(state, "state");
    progress.stage("snapshot");
    ModuleState snap = Snapshot.take(cx, state);
    long total = 0;
    for (ModuleState.Segment s : snap.segments()) {
      total += s.data().length;
    }
    progress.note(snap.segments().size() + " data segments, " + total + " bytes");
    progress.stage("rewrite");
    byte[] out =
        Rewrite.rewrite(
            cx, snap, new Rewrite.Options(initFunc, keepInitFunc, renames, keepInstrumentation));
    progress.note(out.length + " bytes");
    return out;
  }

  private static WizerRuntime defaultRuntime() {
    for (WizerRuntime rt : ServiceLoader.load(WizerRuntime.class, Wizer.class.getClassLoader())) {
      return rt;
    }
    throw new WizerException.InitFailed(
        "no WebAssembly runtime found: add dev.wizer4j:wizer4j-endive to the class path or set"
            + " one with Wizer.builder().runtime(...)");
  }

  /** Configuration of a {@link Wizer}; every setter checks its argument at once. */
  public static final class Builder {
    private String initFunc = DEFAULT_INIT_FUNC;
    private boolean keepInitFunc;
    private final List<Rename> renames = new ArrayList<>();
    private final Set<String> renameDsts = new HashSet<>();
    private final Set<String> renameSrcs = new HashSet<>();
    private boolean keepInstrumentation;
    private boolean instrumentedInput;
    private Progress progress = Progress.SILENT;
    private WizerRuntime runtime;

    private Builder() {}

    /** The export to call after {@code _initialize}; default {@value #DEFAULT_INIT_FUNC}. */
    public Builder initFunc(String name) {
      this.initFunc = requireName(name, "initFunc");
      return this;
    }

    /** Keep the init function's export in the output (default false). */
    public Builder keepInitFunc(boolean keep) {
      this.keepInitFunc = keep;
      return this;
    }

    /**
     * Exports function export {@code src} as {@code dst} in the output, replacing any export named
     * {@code dst}. A name may be a destination once and a source once.
     */
    public Builder renameFunc(String dst, String src) {
      requireName(dst, "dst");
      requireName(src, "src");
      if (dst.startsWith(ModuleContext.WIZER_PREFIX)
          || src.startsWith(ModuleContext.WIZER_PREFIX)) {
        throw new IllegalArgumentException(
            "rename "
                + Names.quote(dst + "=" + src)
                + ": names with the `__wizer_` prefix are reserved");
      }
      if (!renameDsts.add(dst)) {
        throw new IllegalArgumentException("duplicated function rename dst " + Names.quote(dst));
      }
      if (!renameSrcs.add(src)) {
        renameDsts.remove(dst);
        throw new IllegalArgumentException("duplicated function rename src " + Names.quote(src));
      }
      renames.add(new Rename(dst, src));
      return this;
    }

    /** Keep the canonical {@code __wizer_*} exports so the output can be snapshotted again. */
    public Builder keepInstrumentation(boolean keep) {
      this.keepInstrumentation = keep;
      return this;
    }

    /** The input of {@link Wizer#run} carries canonical instrumentation already. */
    public Builder instrumentedInput(boolean instrumented) {
      this.instrumentedInput = instrumented;
      return this;
    }

    /** Receives the stages of a run and notes on them (default: {@link Progress#SILENT}). */
    public Builder progress(Progress progress) {
      this.progress = Objects.requireNonNull(progress, "progress");
      return this;
    }

    /**
     * The runtime that links and runs the init code, configured on its own builder (e.g. {@code
     * EndiveRuntime.builder().allowWasi(true).build()}). Default: the first one {@link
     * java.util.ServiceLoader} finds.
     */
    public Builder runtime(WizerRuntime runtime) {
      this.runtime = Objects.requireNonNull(runtime, "runtime");
      return this;
    }

    public Wizer build() {
      return new Wizer(this);
    }

    private static String requireName(String name, String what) {
      Objects.requireNonNull(name, what);
      if (name.isEmpty()) {
        throw new IllegalArgumentException(what + " must not be empty");
      }
      return name;
    }
  }
}
