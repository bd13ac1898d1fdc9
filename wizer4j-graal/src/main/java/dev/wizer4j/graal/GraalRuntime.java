package dev.wizer4j.graal;

import dev.wizer4j.InstanceState;
import dev.wizer4j.ModuleContext;
import dev.wizer4j.Names;
import dev.wizer4j.Progress;
import dev.wizer4j.WizerException;
import dev.wizer4j.WizerRuntime;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.atomic.AtomicReference;
import org.graalvm.polyglot.Context;
import org.graalvm.polyglot.Engine;
import org.graalvm.polyglot.EnvironmentAccess;
import org.graalvm.polyglot.PolyglotAccess;
import org.graalvm.polyglot.PolyglotException;
import org.graalvm.polyglot.Source;
import org.graalvm.polyglot.Value;
import org.graalvm.polyglot.io.ByteSequence;
import org.graalvm.polyglot.io.IOAccess;
import org.graalvm.polyglot.proxy.ProxyExecutable;
import org.graalvm.polyglot.proxy.ProxyObject;

/**
 * Runs initialization on GraalWasm, the WebAssembly engine of GraalVM's Truffle framework. On a JDK
 * with JVMCI enabled and the Graal compiler on the upgrade module path, GraalWasm compiles hot wasm
 * functions to machine code one at a time, which suits large modules (a JavaScript engine) whose
 * init runs long; without it, GraalWasm falls back to its interpreter and a note says so.
 *
 * <p>GraalWasm gives an embedder only what a module exports, so this runtime instantiates the
 * <em>instrumented</em> module (every defined mutable global exported as {@code
 * __wizer_global_<i>}, every defined memory as {@code __wizer_memory_<j>}) and reads state through
 * those exports, as Wizer does on Wasmtime.
 *
 * <p>Imports: with WASI allowed, {@code wasi_snapshot_preview1} is GraalWasm's own WASI (its
 * functions that GraalWasm does not implement return {@code ENOSYS}); every other function import
 * is a stub that traps, naming the import, when called. Preloaded modules are not supported (yet).
 * Imported memories, tables and globals are rejected by the pipeline before a runtime sees the
 * module.
 */
public final class GraalRuntime implements WizerRuntime {
  static final String WASI_MODULE = "wasi_snapshot_preview1";

  /** A directory the guest sees as {@code guest}; the host side is {@code host}. */
  public record Dir(String guest, Path host) {
    public Dir {
      Objects.requireNonNull(guest, "guest");
      Objects.requireNonNull(host, "host");
    }
  }

  private final boolean allowWasi;
  private final boolean inheritStdio;
  private final boolean inheritEnv;
  private final Map<String, String> env;
  private final List<Dir> dirs;
  private final long stackSize;
  private final OutputStream stdout;
  private final byte[] stdin;
  private FutureTask<Engine> engine;

  private GraalRuntime(Builder b) {
    this.allowWasi = b.allowWasi;
    this.inheritStdio = b.inheritStdio;
    this.inheritEnv = b.inheritEnv;
    this.env = Map.copyOf(b.env);
    this.dirs = List.copyOf(b.dirs);
    this.stackSize = b.stackSize;
    this.stdout = b.stdout;
    this.stdin = b.stdin;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Runs initialization for {@link dev.wizer4j.Wizer#run(byte[])}: instantiates {@code cx}'s module
   * with its instrumentation exports, and returns its state. The GraalWasm context stays open until
   * the state is unreachable (then a cleaner closes it); to close it at once, call {@link
   * #initialize(byte[], String, Progress)} and close the state it returns.
   */
  @Override
  public InstanceState initialize(ModuleContext cx, String initFunc, Progress progress) {
    Objects.requireNonNull(cx, "cx");
    return initialize(cx.instrumentedBytes(), initFunc, progress);
  }

  /**
   * Instantiates {@code instrumentedWasm} (its start function runs), calls {@code _initialize} if
   * it is exported, then {@code initFunc} (once, even if it is {@code _initialize}), and returns
   * the live instance's state. Close it when done: it holds the GraalWasm context.
   *
   * @throws WizerException.InitFailed if instantiation or initialization fails
   */
  public GraalInstanceState initialize(byte[] instrumentedWasm, String initFunc, Progress log) {
    Objects.requireNonNull(instrumentedWasm, "instrumentedWasm");
    Objects.requireNonNull(initFunc, "initFunc");
    Objects.requireNonNull(log, "log");
    // Deep guest recursion (a JS engine parsing a script) needs far more Java stack than the
    // default 1-8 MB, in GraalWasm's interpreter even more than in compiled code, so the guest
    // runs on a thread of its own with a stack sized here. The context is used by that thread
    // only until init returns, then by the caller; never by both at once.
    AtomicReference<Object> result = new AtomicReference<>();
    Thread t =
        new Thread(
            null,
            () -> {
              try {
                result.set(run(instrumentedWasm, initFunc, log));
              } catch (RuntimeException | Error e) {
                result.set(e);
              }
            },
            "wizer4j-graal-init",
            stackSize);
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new WizerException.InitFailed("interrupted while initializing", e);
    }
    Object r = result.get();
    if (r instanceof RuntimeException e) {
      throw e;
    }
    if (r instanceof Error e) {
      throw e;
    }
    return (GraalInstanceState) r;
  }

  private GraalInstanceState run(byte[] wasm, String initFunc, Progress log) {
    log.stage("GraalWasm: create context");
    Context ctx = context();
    boolean ok = false;
    try {
      log.note("GraalWasm engine: " + engineDescription(ctx.getEngine()));
      log.stage("GraalWasm: parse module");
      Value module;
      try {
        module =
            ctx.eval(Source.newBuilder("wasm", ByteSequence.create(wasm), "main").buildLiteral());
      } catch (PolyglotException e) {
        throw new WizerException.InitFailed("GraalWasm cannot load the module: " + message(e), e);
      }
      Value webAssembly = ctx.getPolyglotBindings().getMember("WebAssembly");
      log.stage("instantiate");
      Value instance;
      try {
        instance = module.newInstance(ProxyObject.fromMap(imports(webAssembly, module)));
      } catch (PolyglotException e) {
        throw failure("instantiating the module (its start function)", e);
      }
      Value exports = instance.getMember("exports");
      Value initialize = function(exports, "_initialize");
      if (initialize != null) {
        log.stage("call _initialize");
        call(initialize, "_initialize");
      }
      if (initialize == null || !initFunc.equals("_initialize")) {
        Value f = function(exports, initFunc);
        if (f == null) {
          throw new WizerException.InitFailed("the module exports no function `" + initFunc + "`");
        }
        log.stage("call " + initFunc);
        call(f, initFunc);
      }
      ok = true;
      return new GraalInstanceState(ctx, webAssembly, exports);
    } finally {
      if (!ok) {
        ctx.close(true);
      }
    }
  }

  /**
   * Starts creating the GraalWasm engine (loading Truffle, GraalWasm and, with JVMCI, the Graal
   * compiler: 0.7-2 s) on a background thread, so that it overlaps with what the caller does
   * meanwhile, such as validating the module. Optional; {@code initialize} waits for it.
   */
  public GraalRuntime prepare() {
    synchronized (this) {
      if (engine == null) {
        engine = new FutureTask<>(GraalRuntime::newEngine);
        Thread t = new Thread(engine, "wizer4j-graal-engine");
        t.setDaemon(true);
        t.start();
      }
    }
    return this;
  }

  /**
   * The engine all of this runtime's contexts share. Truffle caches parsed and compiled code per
   * engine and source, so a second initialization of the same module in this JVM starts from code
   * the first one already compiled.
   */
  private Engine engine() {
    prepare();
    try {
      return engine.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new WizerException.InitFailed("interrupted while starting GraalWasm", e);
    } catch (ExecutionException e) {
      throw new WizerException.InitFailed("cannot start GraalWasm: " + e.getCause(), e);
    }
  }

  private static Engine newEngine() {
    return Engine.newBuilder("wasm").option("engine.WarnInterpreterOnly", "false").build();
  }

  private Context context() {
    Context.Builder b =
        Context.newBuilder("wasm")
            .engine(engine())
            // The WebAssembly object (global_read, module_imports) is published through the
            // polyglot bindings, which need polyglot access.
            .allowPolyglotAccess(PolyglotAccess.ALL);
    InputStream in = new ByteArrayInputStream(new byte[0]);
    OutputStream out = OutputStream.nullOutputStream();
    OutputStream err = OutputStream.nullOutputStream();
    if (allowWasi) {
      b.option("wasm.Builtins", WASI_MODULE);
      if (!dirs.isEmpty()) {
        b.allowIO(IOAccess.ALL).option("wasm.WasiMapDirs", mapDirs());
      }
      if (inheritStdio) {
        in = stdin != null ? new ByteArrayInputStream(stdin) : System.in;
        out = stdout != null ? stdout : System.out;
        err = System.err;
      }
      // The guest sees exactly the variables given (and the host's when inherited), sorted for
      // a run that does not depend on map order.
      Map<String, String> vars = new TreeMap<>();
      if (inheritEnv) {
        vars.putAll(System.getenv());
      }
      vars.putAll(env);
      b.allowEnvironmentAccess(EnvironmentAccess.NONE).environment(vars);
    }
    return b.in(in).out(out).err(err).build();
  }

  /** The {@code wasm.WasiMapDirs} option: {@code guest::host} pairs separated by commas. */
  private String mapDirs() {
    List<String> parts = new ArrayList<>();
    for (Dir d : dirs) {
      // The option's syntax cannot quote, so a comma or "::" inside a path would be split into
      // another directory; refuse instead of preopening something else.
      for (String s : List.of(d.guest(), d.host().toString())) {
        if (s.contains(",") || s.contains("::")) {
          throw new WizerException.InitFailed(
              "GraalWasm cannot preopen `" + s + "`: a path with ',' or '::' is not supported");
        }
      }
      if (!Files.isDirectory(d.host())) {
        throw new WizerException.InitFailed(
            "directory `" + d.host() + "` (for guest path `" + d.guest() + "`) does not exist");
      }
      parts.add(d.guest() + "::" + d.host().toAbsolutePath());
    }
    return String.join(",", parts);
  }

  /**
   * An import object with a trapping stub for every function import outside WASI (and for WASI's
   * too when WASI is not allowed). GraalWasm resolves {@code wasi_snapshot_preview1} from its
   * builtin module when the import object does not name it.
   */
  private Map<String, Object> imports(Value webAssembly, Value module) {
    Map<String, Map<String, Object>> byModule = new LinkedHashMap<>();
    Value list = webAssembly.getMember("module_imports").execute(module);
    for (long i = 0; i < list.getArraySize(); i++) {
      Value imp = list.getArrayElement(i);
      String mod = imp.getMember("module").asString();
      String name = imp.getMember("name").asString();
      String kind = imp.getMember("kind").asString();
      if (!"function".equals(kind) || (allowWasi && WASI_MODULE.equals(mod))) {
        continue;
      }
      String why =
          WASI_MODULE.equals(mod)
              ? " (WASI is not allowed during initialization; pass --allow-wasi)"
              : " (no --preload module provides it)";
      String msg = "called the import `" + mod + "." + name + "`, which is not available" + why;
      ProxyExecutable stub =
          args -> {
            throw new ImportTrap(msg);
          };
      byModule.computeIfAbsent(mod, m -> new HashMap<>()).put(name, stub);
    }
    Map<String, Object> imports = new HashMap<>();
    byModule.forEach((mod, fns) -> imports.put(mod, ProxyObject.fromMap(fns)));
    return imports;
  }

  /** Thrown by an import stub; GraalWasm unwinds the guest and rethrows it as a host exception. */
  static final class ImportTrap extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ImportTrap(String message) {
      super(message, null, false, false);
    }
  }

  private static Value function(Value exports, String name) {
    if (!exports.hasMember(name)) {
      return null;
    }
    Value v = exports.getMember(name);
    return v.canExecute() ? v : null;
  }

  private static void call(Value f, String name) {
    try {
      f.execute();
    } catch (PolyglotException e) {
      throw failure("the `" + name + "` function", e);
    }
  }

  private static WizerException failure(String where, PolyglotException e) {
    if (e.isHostException() && e.asHostException() instanceof ImportTrap t) {
      return new WizerException.InitFailed(where + " failed: " + t.getMessage(), e);
    }
    if (e.isExit()) {
      return new WizerException.InitFailed(
          where + " called WASI proc_exit(" + e.getExitStatus() + ") during initialization", e);
    }
    return new WizerException.InitFailed(where + " trapped: " + message(e), e);
  }

  private static String message(PolyglotException e) {
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  /** Which Truffle runtime runs the guest: the Graal JIT, or the interpreter-only fallback. */
  static String engineDescription(Engine engine) {
    String impl = engine.getImplementationName();
    boolean jit = !"Interpreted".equalsIgnoreCase(impl);
    return impl
        + (jit
            ? " (wasm functions are JIT-compiled by Graal)"
            : " (interpreter only: run on JDK 25 with -XX:+EnableJVMCI and the Graal compiler"
                + " on the upgrade module path to compile)");
  }

  /** Configures a {@link GraalRuntime}; the defaults match Wizer's command line. */
  public static final class Builder {
    private boolean allowWasi;
    private boolean inheritStdio = true;
    private boolean inheritEnv;
    private final Map<String, String> env = new LinkedHashMap<>();
    private final List<Dir> dirs = new ArrayList<>();
    private long stackSize = 1L << 30;
    private OutputStream stdout;
    private byte[] stdin;

    private Builder() {}

    /** Links WASI preview1 (GraalWasm's) instead of trapping stubs. Default false. */
    public Builder allowWasi(boolean allow) {
      this.allowWasi = allow;
      return this;
    }

    /** Gives the guest this process's stdin, stdout and stderr (with WASI). Default true. */
    public Builder inheritStdio(boolean inherit) {
      this.inheritStdio = inherit;
      return this;
    }

    /** Gives the guest this process's environment variables (with WASI). Default false. */
    public Builder inheritEnv(boolean inherit) {
      this.inheritEnv = inherit;
      return this;
    }

    /** Adds an environment variable for the guest (with WASI); it wins over an inherited one. */
    public Builder env(String name, String value) {
      Names.checkEnvName(name);
      Objects.requireNonNull(value, "value");
      env.put(name, value);
      return this;
    }

    /** Preopens host directory {@code host} as {@code guest} (with WASI). */
    public Builder mapDir(String guest, Path host) {
      dirs.add(new Dir(guest, host));
      return this;
    }

    /** Preopens {@code dir} under the same path (with WASI). */
    public Builder dir(String dir) {
      Objects.requireNonNull(dir, "dir");
      return mapDir(dir, Path.of(dir));
    }

    /** The Java stack of the thread that runs the guest. Default 1 GiB (reserved, not used). */
    public Builder stackSize(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("stackSize must be positive: " + bytes);
      }
      this.stackSize = bytes;
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
     * With WASI and inherited stdio, what the guest reads as stdin, the same bytes on every
     * initialization (default: this process's stdin, which a second initialization finds consumed).
     */
    public Builder stdin(byte[] bytes) {
      this.stdin = Objects.requireNonNull(bytes, "bytes").clone();
      return this;
    }

    public GraalRuntime build() {
      return new GraalRuntime(this);
    }
  }
}
