package dev.wizer4j.endive;

import dev.wizer4j.InstanceState;
import dev.wizer4j.ModuleContext;
import dev.wizer4j.Names;
import dev.wizer4j.Progress;
import dev.wizer4j.WasmBounds;
import dev.wizer4j.WizerException;
import dev.wizer4j.WizerRuntime;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;
import run.endive.runtime.ExportFunction;
import run.endive.runtime.HostFunction;
import run.endive.runtime.ImportFunction;
import run.endive.runtime.ImportValues;
import run.endive.runtime.Instance;
import run.endive.runtime.Machine;
import run.endive.wasi.WasiExitException;
import run.endive.wasi.WasiOptions;
import run.endive.wasi.WasiPreview1;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmEngineException;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.FunctionImport;
import run.endive.wasm.types.FunctionType;
import run.endive.wasm.types.Import;

/**
 * Runs initialization on Endive, and owns everything about linking and running: WASI, preloaded
 * modules, stdio and the engine. Imports are linked, in this order, to WASI preview1 (when
 * allowed), to the exports of preloaded modules, and otherwise to stubs that trap with the import's
 * name when called.
 *
 * <pre>{@code
 * EndiveRuntime rt = EndiveRuntime.builder().allowWasi(true).mapDir("/data", dir).build();
 * byte[] out = Wizer.builder().runtime(rt).build().run(wasm);
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class EndiveRuntime implements WizerRuntime {
  static final String WASI_MODULE = "wasi_snapshot_preview1";

  /**
   * Endive keeps a memory in Java arrays indexed by int: at most 32,767 pages of 64 KiB. A memory
   * that must start larger cannot be run.
   */
  public static final int MAX_PAGES = 32767;

  /**
   * Endive allocates every element of a table when it instantiates it (about 16 bytes each). V8
   * refuses tables of more than 10,000,000 elements, so no module that runs on the web needs more.
   */
  public static final long MAX_TABLE_ELEMENTS = 10_000_000;

  /** How Endive executes the init code. */
  public enum Engine {
    /**
     * Let the runtime choose from the module's code size: the compiler for modules of up to a
     * million instructions (or compiled in this JVM before), else the interpreter.
     */
    AUTO,
    /** Endive's interpreter: starts at once. */
    INTERPRETER,
    /** Endive's compiler to JVM bytecode: pays up front, then runs compute-heavy code faster. */
    COMPILER
  }

  /** A directory made visible to WASI code under {@code guest}. */
  public record Dir(String guest, Path host) {}

  /** A module instantiated before the input whose exports satisfy imports from {@code name}. */
  public record Preload(String name, byte[] wasm) {}

  private final boolean allowWasi;
  private final boolean inheritStdio;
  private final boolean inheritEnv;
  private final Map<String, String> env;
  private final List<Dir> dirs;
  private final List<Preload> preloads;
  private final Engine engine;
  private final boolean compileCache;
  private final OutputStream stdout;
  private final boolean deterministic;

  /**
   * A runtime with the defaults of {@link #builder()}: no WASI, the engine chosen automatically.
   */
  public EndiveRuntime() {
    this(new Builder());
  }

  private EndiveRuntime(Builder b) {
    this.allowWasi = b.allowWasi;
    this.inheritStdio = b.inheritStdio;
    this.inheritEnv = b.inheritEnv;
    this.env = Collections.unmodifiableMap(new TreeMap<>(b.env));
    this.dirs = List.copyOf(b.dirs);
    this.preloads = List.copyOf(b.preloads);
    this.engine = b.engine;
    this.compileCache = b.compileCache;
    this.stdout = b.stdout;
    this.deterministic = b.deterministic;
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public InstanceState initialize(ModuleContext cx, String initFunc, Progress progress) {
    WasmModule module =
        cx.decoded(WasmModule.class)
            .orElseThrow(
                () ->
                    new IllegalArgumentException(
                        "the module context was not decoded by Endive's parser"));
    checkLimits(module, "");
    Function<Instance, Machine> machine = machine(module, progress);
    progress.stage("instantiate");
    DeterministicWasi det = allowWasi && deterministic ? new DeterministicWasi() : null;
    SandboxedWasi wasi = allowWasi ? wasi(det) : null;
    try {
      Map<String, Instance> preloaded = new HashMap<>();
      for (Preload p : preloads) {
        WasmModule pm;
        try {
          WasmBounds.check(p.wasm()); // before Endive's parser allocates from declared sizes
          pm = Parser.parse(p.wasm());
        } catch (RuntimeException e) {
          throw new WizerException.InitFailed(
              "preload module " + Names.quote(p.name()) + " is invalid: " + describe(e), e);
        }
        checkLimits(pm, "preload module " + Names.quote(p.name()) + ": ");
        try {
          preloaded.put(
              p.name(),
              Instance.builder(pm)
                  .withMemoryFactory(PageLimitedMemory.factory())
                  .withImportValues(imports(pm, wasi, det, preloaded))
                  .withStart(false)
                  .build());
        } catch (WasmEngineException e) {
          throw new WizerException.InitFailed(
              "failed to instantiate preload module " + Names.quote(p.name()) + ": " + describe(e),
              e);
        }
      }

      Instance.Builder builder =
          Instance.builder(module)
              .withMemoryFactory(PageLimitedMemory.factory())
              .withImportValues(imports(module, wasi, det, preloaded))
              .withStart(false);
      if (machine != null) {
        builder.withMachineFactory(machine);
      }
      Instance instance;
      try {
        instance = builder.build();
      } catch (RuntimeException e) {
        throw failure(
            module.startSection().isPresent()
                ? "instantiating the module (its segments, then its start function)"
                : "instantiating the module",
            e,
            false);
      }

      ExportFunction initialize = exportedFunction(instance, "_initialize");
      if (initialize != null) {
        progress.stage("call _initialize");
        call(initialize, "_initialize");
      }
      if (initialize == null || !initFunc.equals("_initialize")) {
        progress.stage("call " + initFunc);
        call(instance.export(initFunc), initFunc);
      }
      return EndiveInstanceState.byIndex(instance);
    } finally {
      if (wasi != null) {
        wasi.close();
      }
    }
  }

  /** Rejects what Endive cannot hold, before anything is allocated. */
  private static void checkLimits(WasmModule module, String which) {
    module
        .memorySection()
        .ifPresent(
            memories -> {
              int imported = module.importSection().count(ExternalType.MEMORY);
              for (int i = 0; i < memories.memoryCount(); i++) {
                long min = Integer.toUnsignedLong(memories.getMemory(i).limits().initialPages());
                if (min > MAX_PAGES) {
                  throw new WizerException.Unsupported(
                      String.format(
                          "%smemory %d starts at %d pages (%d MiB), more than the %d pages (2 GiB)"
                              + " the Endive runtime can hold",
                          which, imported + i, min, min / 16, MAX_PAGES));
                }
              }
            });
    var tables = module.tableSection();
    int importedTables = module.importSection().count(ExternalType.TABLE);
    for (int i = 0; i < tables.tableCount(); i++) {
      long min = tables.getTable(i).limits().min();
      if (min > MAX_TABLE_ELEMENTS) {
        throw new WizerException.Unsupported(
            String.format(
                "%stable %d starts at %d elements, more than the %d the Endive runtime is let"
                    + " allocate",
                which, importedTables + i, min, MAX_TABLE_ELEMENTS));
      }
    }
  }

  private Function<Instance, Machine> machine(WasmModule module, Progress progress) {
    return Engines.machine(
        module, engine, compileCache ? CompiledModuleCache.configured() : null, progress);
  }

  private static ExportFunction exportedFunction(Instance instance, String name) {
    var exports = instance.module().exportSection();
    for (int i = 0; i < exports.exportCount(); i++) {
      var e = exports.getExport(i);
      if (e.name().equals(name) && e.exportType() == ExternalType.FUNCTION) {
        return instance.export(name);
      }
    }
    return null;
  }

  private static void call(ExportFunction f, String name) {
    try {
      f.apply();
    } catch (RuntimeException | StackOverflowError e) {
      throw failure("the " + Names.quote(name) + " function", e, true);
    }
  }

  private static WizerException failure(String where, Throwable e, boolean call) {
    Throwable c = e;
    while (c != null) {
      if (c instanceof WizerException w) {
        return new WizerException.InitFailed(where + " failed: " + w.getMessage(), e);
      }
      if (c instanceof WasiExitException x) {
        return new WizerException.InitFailed(
            where + " called WASI proc_exit(" + x.exitCode() + ") during initialization", e);
      }
      c = c.getCause() == c ? null : c.getCause();
    }
    if (e instanceof StackOverflowError) {
      return new WizerException.InitFailed(where + " trapped: call stack exhausted", e);
    }
    String msg = e.getMessage() == null ? "" : e.getMessage();
    if (msg.startsWith("Machine doesn't recognize Instruction")) {
      return new WizerException.InitFailed(
          where
              + " executed an instruction the Endive interpreter does not support on this JVM ("
              + msg.substring("Machine doesn't recognize ".length())
              + "); SIMD needs Endive's SIMD interpreter, which requires Java 21 or later",
          e);
    }
    // A call traps; instantiating fails (a segment out of bounds, an import that cannot be
    // linked, or a trap in the start function, which Endive reports as the instance failing).
    String verb = call ? " trapped: " : " failed: ";
    return new WizerException.InitFailed(where + verb + describe(e), e);
  }

  static String describe(Throwable e) {
    return Names.message(
        e, "internal error of the Endive runtime (run with --stack-trace for details)");
  }

  private SandboxedWasi wasi(DeterministicWasi det) {
    WasiOptions.Builder opts = WasiOptions.builder();
    if (det != null) {
      opts.withClock(det.clock).withRandom(det.random());
    }
    // Endive calls every stream a terminal; wasmtime calls a stream a character device only when
    // it is one (and "unknown" otherwise), which changes how a libc buffers stdout. The JDK tells
    // only whether stdin and stdout both are; that answer stands for all three.
    boolean tty = inheritStdio && ProcessEnvironment.stdioIsTerminal();
    boolean stdoutTty = tty && stdout == null;
    if (inheritStdio) {
      opts.withStdin(System.in, tty);
      opts.withStdout(stdout != null ? stdout : System.out, stdoutTty);
      opts.withStderr(System.err, tty);
    } else {
      opts.withStdin(InputStream.nullInputStream(), false);
      opts.withStdout(OutputStream.nullOutputStream(), false);
      opts.withStderr(OutputStream.nullOutputStream(), false);
    }
    // Inherited variables in the process's order, as wasmtime passes them; entries set on the
    // builder replace an inherited value in place, and new ones follow.
    Map<String, String> all = new LinkedHashMap<>();
    if (inheritEnv) {
      all.putAll(ProcessEnvironment.inOrder());
    }
    all.putAll(env);
    all.forEach(opts::withEnvironment);
    // Endive numbers preopens in the order of a map keyed by guest name (a repeated name keeps
    // its first place and its last directory); the sandbox must know each descriptor's directory.
    Map<String, Path> preopens = new LinkedHashMap<>();
    for (Dir d : dirs) {
      if (!Files.isDirectory(d.host())) {
        throw new WizerException.InitFailed(
            "directory "
                + Names.quote(d.host().toString())
                + " (for guest path "
                + Names.quote(d.guest())
                + ") does not exist");
      }
      preopens.put(d.guest(), d.host());
    }
    preopens.forEach(opts::withDirectory);
    return new SandboxedWasi(
        WasiPreview1.builder().withOptions(opts.build()).build(),
        new ArrayList<>(preopens.values()),
        tty,
        stdoutTty,
        tty);
  }

  /**
   * Links every function import of {@code module}: WASI first, then preloads, then a stub that
   * traps naming the import. Other imports are left for Endive to report as unlinkable.
   */
  private static ImportValues imports(
      WasmModule module,
      SandboxedWasi wasi,
      DeterministicWasi det,
      Map<String, Instance> preloads) {
    Map<String, HostFunction> wasiFns = new HashMap<>();
    if (wasi != null) {
      for (HostFunction f : wasi.toHostFunctions()) {
        wasiFns.put(f.name(), f);
      }
    }
    if (det != null) {
      HostFunction clock = det.clockTimeGet(WASI_MODULE);
      wasiFns.put(clock.name(), clock);
    }
    List<ImportFunction> fns = new ArrayList<>();
    var section = module.importSection();
    for (int i = 0; i < section.importCount(); i++) {
      Import imp = section.getImport(i);
      if (imp.importType() != ExternalType.FUNCTION) {
        continue;
      }
      FunctionType type = module.typeSection().getType(((FunctionImport) imp).typeIndex());
      String mod = imp.module();
      String name = imp.name();
      HostFunction wasiFn = WASI_MODULE.equals(mod) ? wasiFns.get(name) : null;
      Instance pre = preloads.get(mod);
      if (wasiFn != null && wasiFn.functionType().equals(type)) {
        fns.add(wasiFn);
      } else if (pre != null && exportedFunction(pre, name) != null) {
        ExportFunction target = pre.export(name);
        fns.add(new HostFunction(mod, name, type, (inst, args) -> target.apply(args)));
      } else {
        String why =
            wasi == null && WASI_MODULE.equals(mod)
                ? " (WASI is not allowed during initialization; pass --allow-wasi)"
                : " (no --preload module provides it)";
        fns.add(
            new HostFunction(
                mod,
                name,
                type,
                (inst, args) -> {
                  throw new WizerException.InitFailed(
                      "called the import "
                          + Names.quote(mod + "." + name)
                          + ", which is not available"
                          + why);
                }));
      }
    }
    return ImportValues.builder().withFunctions(fns).build();
  }

  /** Configuration of an {@link EndiveRuntime}; every setter checks its argument at once. */
  public static final class Builder {
    private boolean allowWasi;
    private boolean inheritStdio = true;
    private boolean inheritEnv;
    private final Map<String, String> env = new TreeMap<>();
    private final List<Dir> dirs = new ArrayList<>();
    private final List<Preload> preloads = new ArrayList<>();
    private Engine engine = Engine.AUTO;
    private boolean compileCache = true;
    private OutputStream stdout;
    private boolean deterministic;

    private Builder() {}

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

    /** With WASI, set environment variable {@code name} for the guest; it wins over inherited. */
    public Builder env(String name, String value) {
      Names.checkEnvName(name);
      Objects.requireNonNull(value, "value");
      env.put(name, value);
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
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(wasm, "wasm");
      if (name.isEmpty()) {
        throw new IllegalArgumentException("name must not be empty");
      }
      for (Preload p : preloads) {
        if (p.name().equals(name)) {
          throw new IllegalArgumentException("duplicated preload name " + Names.quote(name));
        }
      }
      preloads.add(new Preload(name, wasm));
      return this;
    }

    /** How to run the init code (default {@link Engine#AUTO}). */
    public Builder engine(Engine engine) {
      this.engine = Objects.requireNonNull(engine, "engine");
      return this;
    }

    /**
     * Whether compiled modules are kept (default true): in memory for the JVM's lifetime, and on
     * disk under {@code $XDG_CACHE_HOME/wizer4j/compiled} (default {@code ~/.cache/wizer4j}), keyed
     * by the module's SHA-256 and the Endive and JVM versions. False compiles every time.
     */
    public Builder compileCache(boolean use) {
      this.compileCache = use;
      return this;
    }

    /**
     * With WASI and inherited stdio, where the guest's stdout goes (default: {@code System.out}). A
     * tool that writes the module to its own stdout sends the guest's elsewhere.
     */
    public Builder stdout(OutputStream stdout) {
      this.stdout = Objects.requireNonNull(stdout, "stdout");
      return this;
    }

    /**
     * With WASI, make the clocks and {@code random_get} deterministic (default false): the clock
     * starts at 2000-01-01T00:00:00Z and advances one millisecond per reading, and random bytes
     * come from a fixed seed, so an init that reads time or randomness gives byte-identical output
     * on every run. A guest that sleeps still sleeps; host files and an inherited environment are
     * still the host's.
     */
    public Builder deterministic(boolean deterministic) {
      this.deterministic = deterministic;
      return this;
    }

    public EndiveRuntime build() {
      return new EndiveRuntime(this);
    }
  }
}
