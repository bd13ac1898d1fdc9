package dev.wizer4j;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.function.Consumer;

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
 * <p>Instances are immutable and thread-safe; build one per configuration.
 */
public final class Wizer {
  public static final String DEFAULT_INIT_FUNC = "wizer-initialize";

  /** How the runtime executes code: {@code AUTO} lets the runtime choose. */
  public enum Engine {
    AUTO,
    INTERPRETER,
    COMPILER
  }

  /** A directory made visible to WASI code under {@code guest}. */
  public record Dir(String guest, Path host) {}

  /** A module instantiated before the input whose exports satisfy imports from {@code name}. */
  public record Preload(String name, byte[] wasm) {}

  private final String initFunc;
  private final boolean keepInitFunc;
  private final List<Rename> renames;
  private final boolean keepInstrumentation;
  private final boolean instrumentedInput;
  private final boolean allowWasi;
  private final boolean inheritStdio;
  private final boolean inheritEnv;
  private final List<Dir> dirs;
  private final List<Preload> preloads;
  private final Engine engine;
  private final Consumer<String> log;
  private final WizerRuntime runtime;

  private Wizer(Builder b) {
    this.initFunc = b.initFunc;
    this.keepInitFunc = b.keepInitFunc;
    this.renames = List.copyOf(b.renames);
    this.keepInstrumentation = b.keepInstrumentation;
    this.instrumentedInput = b.instrumentedInput;
    this.allowWasi = b.allowWasi;
    this.inheritStdio = b.inheritStdio;
    this.inheritEnv = b.inheritEnv;
    this.dirs = List.copyOf(b.dirs);
    this.preloads = List.copyOf(b.preloads);
    this.engine = b.engine;
    this.log = b.log;
    this.runtime = b.runtime;
  }

  public static Builder builder() {
    return new Builder();
  }

  public String initFunc() {
    return initFunc;
  }

  public boolean keepInitFunc() {
    return keepInitFunc;
  }

  public boolean keepInstrumentation() {
    return keepInstrumentation;
  }

  public boolean allowWasi() {
    return allowWasi;
  }

  public boolean inheritStdio() {
    return inheritStdio;
  }

  public boolean inheritEnv() {
    return inheritEnv;
  }

  public List<Dir> dirs() {
    return dirs;
  }

  public List<Preload> preloads() {
    return preloads;
  }

  public Engine engine() {
    return engine;
  }

  /** Reports a progress or timing line, if a log was configured. */
  public void log(String line) {
    if (log != null) {
      log.accept(line);
    }
  }

  /**
   * Pre-initializes {@code wasm}: validates it, runs its initialization on the configured runtime
   * and returns the rewritten module. With {@link Builder#instrumentedInput(boolean)}, the input
   * must carry canonical instrumentation and the init function advances its state.
   */
  public byte[] run(byte[] wasm) {
    Objects.requireNonNull(wasm, "wasm");
    long t0 = System.nanoTime();
    ModuleContext cx = Parse.parse(wasm, instrumentedInput);
    t0 = lap("parse and validate", t0);
    Check.initFunc(cx, initFunc);
    WizerRuntime rt = runtime != null ? runtime : defaultRuntime();
    InstanceState state;
    try {
      state = rt.initialize(cx, this);
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
    ModuleContext cx = Parse.parse(wasm, false);
    return new Instrumented(cx, Instrument.instrument(cx));
  }

  /**
   * Validates a module that already carries instrumentation (for example the output of a run with
   * {@link Builder#keepInstrumentation(boolean)}) and checks that the instrumentation is exactly
   * canonical. The result can snapshot any number of live instances of it.
   */
  public ModuleContext parseInstrumented(byte[] wasm) {
    Objects.requireNonNull(wasm, "wasm");
    return Parse.parse(wasm, true);
  }

  /**
   * Snapshots {@code state}, an instance of {@code cx}'s module (instrumented) at any point between
   * calls, into a new module. The instance is only read; it can go on running and be snapshotted
   * again.
   */
  public byte[] snapshot(ModuleContext cx, InstanceState state) {
    Objects.requireNonNull(cx, "cx");
    Objects.requireNonNull(state, "state");
    long t0 = System.nanoTime();
    Snapshot snap = Snapshot.take(cx, state);
    long total = 0;
    for (Snapshot.Segment s : snap.segments()) {
      total += s.data().length;
    }
    t0 = lap("snapshot: " + snap.segments().size() + " data segments, " + total + " bytes", t0);
    byte[] out =
        Rewrite.rewrite(
            cx, snap, new Rewrite.Options(initFunc, keepInitFunc, renames, keepInstrumentation));
    lap("rewrite: " + out.length + " bytes", t0);
    return out;
  }

  private long lap(String what, long t0) {
    long now = System.nanoTime();
    log(String.format("%-40s %8.1f ms", what, (now - t0) / 1e6));
    return now;
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
    private boolean allowWasi;
    private boolean inheritStdio = true;
    private boolean inheritEnv;
    private final List<Dir> dirs = new ArrayList<>();
    private final List<Preload> preloads = new ArrayList<>();
    private Engine engine = Engine.AUTO;
    private Consumer<String> log;
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
            "rename " + dst + "=" + src + ": names with the `__wizer_` prefix are reserved");
      }
      if (!renameDsts.add(dst)) {
        throw new IllegalArgumentException("duplicated function rename dst `" + dst + "`");
      }
      if (!renameSrcs.add(src)) {
        renameDsts.remove(dst);
        throw new IllegalArgumentException("duplicated function rename src `" + src + "`");
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

    /** Link real WASI preview1 instead of trapping stubs (default false). */
    public Builder allowWasi(boolean allow) {
      this.allowWasi = allow;
      return this;
    }

    /** With WASI, give the guest this process's stdin, stdout and stderr (default true). */
    public Builder inheritStdio(boolean inherit) {
      this.inheritStdio = inherit;
      return this;
    }

    /** With WASI, give the guest this process's environment (default false: empty). */
    public Builder inheritEnv(boolean inherit) {
      this.inheritEnv = inherit;
      return this;
    }

    /** With WASI, make host directory {@code host} visible to the guest as {@code guest}. */
    public Builder mapDir(String guest, Path host) {
      Objects.requireNonNull(guest, "guest");
      Objects.requireNonNull(host, "host");
      dirs.add(new Dir(guest, host));
      return this;
    }

    /** With WASI, make host directory {@code dir} visible to the guest under the same name. */
    public Builder dir(String dir) {
      Objects.requireNonNull(dir, "dir");
      return mapDir(dir, Path.of(dir));
    }

    /** Instantiate {@code wasm} first and satisfy imports from module {@code name} with it. */
    public Builder preload(String name, byte[] wasm) {
      requireName(name, "name");
      Objects.requireNonNull(wasm, "wasm");
      for (Preload p : preloads) {
        if (p.name().equals(name)) {
          throw new IllegalArgumentException("duplicated preload name `" + name + "`");
        }
      }
      preloads.add(new Preload(name, wasm));
      return this;
    }

    public Builder engine(Engine engine) {
      this.engine = Objects.requireNonNull(engine, "engine");
      return this;
    }

    /** Receives progress and timing lines (null: silent). */
    public Builder log(Consumer<String> log) {
      this.log = log;
      return this;
    }

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
