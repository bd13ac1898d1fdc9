package dev.wizer4j.cli;

import dev.wizer4j.Names;
import dev.wizer4j.Progress;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.endive.EndiveRuntime;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import run.endive.runtime.Instance;

/**
 * The {@code wizer4j} command line: Wizer's options mapped onto {@link Wizer.Builder}. No logic
 * lives here beyond reading the input, writing the output atomically and reporting errors.
 */
@Command(
    name = "wizer4j",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Pre-initializes a WebAssembly module: runs its initialization function once and writes a"
          + " new module whose globals and memories already hold the result.",
      "Command-line compatible with Bytecode Alliance's Wizer; adds incremental snapshots"
          + " (--keep-instrumentation, --instrumented)."
    },
    exitCodeOnInvalidInput = 2,
    exitCodeOnExecutionException = 1)
public final class Main implements Callable<Integer> {
  /** Exit status of a failure. */
  static final int FAILURE = 1;

  /** Exit status of a bad command line, as picocli and Wizer's clap use. */
  static final int USAGE = 2;

  @Parameters(
      index = "0",
      arity = "0..1",
      paramLabel = "INPUT",
      description =
          "Input module (binary .wasm; .wat needs wabt's wat2wasm). '-' or omitted: stdin.")
  String input;

  @Option(
      names = "-o",
      paramLabel = "OUTPUT",
      description = "Output file. Omitted: stdout. Written atomically: on failure it is untouched.")
  String output;

  @Option(
      names = {"-f", "--init-func"},
      paramLabel = "NAME",
      defaultValue = Wizer.DEFAULT_INIT_FUNC,
      description = "The export to call to initialize the module (default: ${DEFAULT-VALUE}).")
  String initFunc;

  @Option(
      names = {"-r", "--rename-func", "--func-rename"},
      paramLabel = "DST=SRC",
      description = "Export function SRC as DST in the output, replacing any DST. Repeatable.")
  List<String> renames = new ArrayList<>();

  @Option(
      names = "--keep-init-func",
      arity = "0..1",
      fallbackValue = "true",
      paramLabel = "true|false",
      description = "Keep the init function's export in the output (default: false).")
  boolean keepInitFunc;

  @Option(
      names = "--allow-wasi",
      description = "Link real WASI preview1 during initialization (default: imports trap).")
  boolean allowWasi;

  @Option(
      names = "--inherit-stdio",
      arity = "0..1",
      fallbackValue = "true",
      defaultValue = "true",
      paramLabel = "true|false",
      description = "With WASI, give the guest this process's stdio (default: true).")
  boolean inheritStdio;

  @Option(
      names = "--inherit-env",
      arity = "0..1",
      fallbackValue = "true",
      defaultValue = "false",
      paramLabel = "true|false",
      description = "With WASI, give the guest this process's environment (default: false).")
  boolean inheritEnv;

  @Option(
      names = "--env",
      paramLabel = "NAME[=VALUE]",
      description =
          "With WASI, set an environment variable for the guest; without a value, take it from"
              + " this process's environment (skipped if unset). Repeatable.")
  List<String> envs = new ArrayList<>();

  @Option(
      names = "--dir",
      paramLabel = "DIR|HOST::GUEST",
      description =
          "With WASI, make DIR visible to the guest under the same path, or (as wasmtime writes"
              + " it) host directory HOST as GUEST. Repeatable.")
  List<String> dirs = new ArrayList<>();

  @Option(
      names = "--mapdir",
      paramLabel = "GUEST::HOST",
      description = "With WASI, make host directory HOST visible as GUEST. Repeatable.")
  List<String> mapDirs = new ArrayList<>();

  @Option(
      names = "--preload",
      paramLabel = "NAME=FILE",
      description =
          "Instantiate FILE (.wasm or .wat) first; its exports satisfy imports from module NAME."
              + " It is not snapshotted. Repeatable.")
  List<String> preloads = new ArrayList<>();

  @Option(
      names = "--keep-instrumentation",
      description =
          "Keep the __wizer_global_N / __wizer_memory_N exports so the output can be"
              + " snapshotted again (with --instrumented).")
  boolean keepInstrumentation;

  @Option(
      names = "--instrumented",
      description =
          "The input already carries canonical instrumentation (an output of"
              + " --keep-instrumentation); the init function advances its state.")
  boolean instrumented;

  @Option(
      names = "--engine",
      paramLabel = "auto|interpreter|compiler",
      defaultValue = "auto",
      description =
          "How Endive runs the init code: its interpreter (starts at once), or its compiler"
              + " to JVM bytecode (pays ~0.5 s or more up front, then runs compute-heavy inits"
              + " 10x faster or more). auto: the compiler for modules of up to a million"
              + " instructions, else the interpreter (default: ${DEFAULT-VALUE}).")
  String engine;

  @Option(
      names = "--no-cache",
      description =
          "Neither read nor write compiled modules in the cache directory"
              + " ($XDG_CACHE_HOME/wizer4j, default ~/.cache/wizer4j).")
  boolean noCache;

  @Option(
      names = "--deterministic",
      description =
          "With WASI, the clocks start at 2000-01-01T00:00:00Z and advance only as the guest reads"
              + " them, and random_get is a seeded stream: init that reads time or randomness"
              + " gives the same output on every run.")
  boolean deterministic;

  @Option(
      names = {"-v", "--verbose"},
      description = "Print the time of each stage to stderr.")
  boolean verbose;

  @Option(
      names = {"-q", "--quiet"},
      description =
          "No progress lines. By default a run that lasts over 2 s prints one line per stage and"
              + " one every 10 s to stderr.")
  boolean quiet;

  @Option(names = "--stack-trace", description = "Print the stack trace of a failure.")
  boolean stackTrace;

  // Wizer's feature switches. wizer4j validates with every feature Endive supports enabled, so
  // these are accepted for compatibility and do not change the result.
  @Option(names = "--wasm-multi-memory", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmMultiMemory;

  @Option(names = "--wasm-multi-value", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmMultiValue;

  @Option(names = "--wasm-bulk-memory", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmBulkMemory;

  @Option(names = "--wasm-simd", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmSimd;

  @Option(names = "--wasm-relaxed-simd", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmRelaxedSimd;

  @Option(names = "--wasm-reference-types", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmReferenceTypes;

  @Option(
      names = "--relaxed-simd-deterministic",
      arity = "0..1",
      fallbackValue = "true",
      hidden = true)
  Boolean relaxedSimdDeterministic;

  private final PrintStream stdout;
  private final PrintStream stderr;

  Main(PrintStream stdout, PrintStream stderr) {
    this.stdout = stdout;
    this.stderr = stderr;
  }

  public static void main(String[] args) {
    PrintStream realOut = System.out;
    int code = run(args, realOut, System.err);
    realOut.flush();
    System.exit(code);
  }

  static int run(String[] args, PrintStream stdout, PrintStream stderr) {
    Main main = new Main(stdout, stderr);
    CommandLine cl = new CommandLine(main);
    cl.setErr(new java.io.PrintWriter(stderr, true));
    cl.setUsageHelpLongOptionsMaxWidth(32);
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          main.report(ex);
          return ex instanceof UsageException ? USAGE : FAILURE;
        });
    cl.setParameterExceptionHandler(
        (ex, a) -> {
          stderr.println("error: " + usageMessage(ex));
          stderr.println("Try 'wizer4j --help' for more information.");
          return USAGE;
        });
    cl.setOut(new java.io.PrintWriter(stdout, true));
    try {
      return cl.execute(args);
    } catch (Error e) {
      // picocli hands only Exceptions to the handler; a guest that declares a huge memory, a
      // deeply nested module, or an assertion in a library run with -ea must still end with one
      // line, not a JVM stack trace.
      main.report(e);
      return FAILURE;
    }
  }

  /**
   * picocli's message, except for unknown options: after {@code --bogus VALUE in.wasm} it takes
   * VALUE as the input and lists {@code in.wasm} among the "unknown options". Only arguments that
   * look like options are named as such.
   */
  private static String usageMessage(CommandLine.ParameterException ex) {
    if (ex instanceof CommandLine.UnmatchedArgumentException u && u.isUnknownOption()) {
      List<String> options = new ArrayList<>();
      for (String arg : u.getUnmatched()) {
        if (arg.startsWith("-") && !arg.equals("-")) {
          options.add("'" + arg + "'");
        }
      }
      if (!options.isEmpty()) {
        return (options.size() == 1 ? "Unknown option: " : "Unknown options: ")
            + String.join(", ", options);
      }
    }
    return ex.getMessage();
  }

  private void report(Throwable ex) {
    // Every message is made one line: it may quote names and texts from the input.
    String msg = Names.oneLine(ex.getMessage());
    if (ex instanceof WizerException || ex instanceof CliException || ex instanceof IOException) {
      stderr.println("error: " + (msg.isEmpty() ? "failed" : msg));
    } else if (ex instanceof OutOfMemoryError) {
      stderr.println(
          "error: out of memory (" + msg + "); give the JVM more heap, e.g. JAVA_OPTS=-Xmx8g");
    } else if (ex instanceof StackOverflowError) {
      stderr.println("error: call stack exhausted; give the JVM a larger stack, e.g. -Xss256m");
    } else {
      stderr.println(
          "error: internal error: "
              + Names.message(ex, "an unexpected failure")
              + " (--stack-trace shows where)");
    }
    if (stackTrace) {
      ex.printStackTrace(stderr);
    }
  }

  /** A user error found by the command line itself. */
  static class CliException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CliException(String message) {
      super(message);
    }
  }

  /** A bad command line: exit status 2, like an option picocli itself rejects. */
  static final class UsageException extends CliException {
    private static final long serialVersionUID = 1L;

    UsageException(String message) {
      super(message);
    }
  }

  @Override
  public Integer call() throws IOException {
    long start = System.nanoTime();
    if (noCache) {
      // The compile cache is keyed by the digest Endive's parser computes; without the cache,
      // skip its cost. Read when the parser is first used, which is after this.
      if (System.getProperty("run.endive.wasm.Parser.DIGEST_ALGORITHM") == null) {
        System.setProperty("run.endive.wasm.Parser.DIGEST_ALGORITHM", "none");
      }
    }
    if (initFunc.isEmpty()) {
      throw new UsageException("invalid value '' for '--init-func <NAME>': must not be empty");
    }
    Wizer.Builder b =
        Wizer.builder()
            .initFunc(initFunc)
            .keepInitFunc(keepInitFunc)
            .keepInstrumentation(keepInstrumentation)
            .instrumentedInput(instrumented);
    for (String r : renames) {
      int eq = r.indexOf('=');
      if (eq <= 0 || eq == r.length() - 1) {
        throw new UsageException(
            "invalid value '"
                + r
                + "' for '--rename-func <DST=SRC>': must be two non-empty names joined by '='");
      }
      try {
        b.renameFunc(r.substring(0, eq), r.substring(eq + 1));
      } catch (IllegalArgumentException e) {
        throw new UsageException(e.getMessage());
      }
    }
    boolean toStdout = output == null || output.equals("-");
    EndiveRuntime.Builder rt =
        EndiveRuntime.builder()
            .allowWasi(allowWasi)
            .inheritStdio(inheritStdio)
            .inheritEnv(inheritEnv)
            .engine(parseEngine(engine))
            .compileCache(!noCache);
    if (toStdout) {
      // The guest's stdout must never mix with the module.
      rt.stdout(stderr);
    }
    if (deterministic) {
      rt.deterministic(true);
    }
    for (String e : envs) {
      int eq = e.indexOf('=');
      String name = eq < 0 ? e : e.substring(0, eq);
      String value = eq < 0 ? System.getenv(name) : e.substring(eq + 1);
      if (name.isEmpty()) {
        throw new UsageException(
            "invalid value '" + e + "' for '--env <NAME[=VALUE]>': the name must not be empty");
      }
      if (value != null) {
        try {
          rt.env(name, value);
        } catch (IllegalArgumentException x) {
          throw new UsageException(x.getMessage());
        }
      }
    }
    for (String d : dirs) {
      if (d.isEmpty()) {
        throw new UsageException("invalid value '' for '--dir <DIR>': must not be empty");
      }
      int sep = d.indexOf("::");
      if (sep < 0) {
        rt.dir(d);
      } else if (sep == 0 || sep + 2 == d.length() || d.indexOf("::", sep + 2) >= 0) {
        throw new UsageException(
            "invalid value '"
                + d
                + "' for '--dir <HOST::GUEST>': must be a directory, or HOST::GUEST (one '::')");
      } else {
        rt.mapDir(d.substring(sep + 2), Path.of(d.substring(0, sep)));
      }
    }
    for (String m : mapDirs) {
      int sep = m.indexOf("::");
      if (sep <= 0 || sep + 2 == m.length() || m.indexOf("::", sep + 2) >= 0) {
        throw new UsageException(
            "invalid value '"
                + m
                + "' for '--mapdir <GUEST::HOST>': must be of the form GUEST::HOST (one '::')");
      }
      rt.mapDir(m.substring(0, sep), Path.of(m.substring(sep + 2)));
    }
    List<String[]> preloadFiles = new ArrayList<>();
    for (String p : preloads) {
      int eq = p.indexOf('=');
      if (eq <= 0 || eq == p.length() - 1) {
        throw new UsageException(
            "bad --preload option: '" + p + "' (must be of the form NAME=FILE)");
      }
      preloadFiles.add(new String[] {p.substring(0, eq), p.substring(eq + 1)});
    }
    // Every option is checked before any file is read, so that a bad command line is always
    // reported as one (status 2), whatever the files hold.
    for (String[] p : preloadFiles) {
      try {
        rt.preload(p[0], readModule(Path.of(p[1]), "preload module"));
      } catch (IllegalArgumentException e) {
        throw new UsageException(e.getMessage());
      }
    }
    VerboseProgress progress = verbose ? new VerboseProgress(stderr) : null;
    try (HeartbeatProgress heartbeat = quiet ? null : HeartbeatProgress.start(stderr)) {
      b.progress(both(progress, heartbeat));
      return run(b.runtime(rt.build()).build(), toStdout, progress, start);
    }
  }

  /** Reports to each of {@code a} and {@code b} that is not null. */
  private static Progress both(Progress a, Progress b) {
    if (a == null || b == null) {
      return a != null ? a : b != null ? b : Progress.SILENT;
    }
    return new Progress() {
      @Override
      public void stage(String name) {
        a.stage(name);
        b.stage(name);
      }

      @Override
      public void note(String message) {
        a.note(message);
        b.note(message);
      }
    };
  }

  private int run(Wizer wizer, boolean toStdout, VerboseProgress progress, long start)
      throws IOException {
    byte[] wasm;
    if (input == null || input.equals("-")) {
      wasm = toBinary(System.in.readAllBytes(), "<stdin>");
    } else {
      wasm = readModule(Path.of(input), "input");
    }
    if (progress != null) {
      stderr.printf(
          Locale.ROOT,
          "wizer4j: read %s (%d bytes)%n",
          input == null || input.equals("-") ? "<stdin>" : input,
          wasm.length);
    }
    byte[] out = wizer.run(wasm);
    if (toStdout) {
      stdout.write(out);
      stdout.flush();
      if (stdout.checkError()) {
        // PrintStream swallows I/O errors (a closed pipe, a full disk); a truncated module on
        // stdout must not end with status 0.
        throw new CliException("cannot write the module to stdout");
      }
    } else {
      OutputFile.write(Path.of(output), out);
    }
    if (progress != null) {
      progress.finish();
      stderr.printf(
          Locale.ROOT,
          "wizer4j: wrote %s (%d bytes) in %.1f ms%n",
          output == null || output.equals("-") ? "<stdout>" : output,
          out.length,
          (System.nanoTime() - start) / 1e6);
    }
    return 0;
  }

  private static EndiveRuntime.Engine parseEngine(String s) {
    try {
      return EndiveRuntime.Engine.valueOf(s.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new UsageException(
          "invalid value '" + s + "' for '--engine': expected auto, interpreter or compiler");
    }
  }

  /** An I/O error as a reason: the JDK's file exceptions carry only the path as message. */
  static String describe(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  static byte[] readModule(Path path, String what) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new CliException("cannot read " + what + " " + path + ": no such file");
    } catch (IOException e) {
      throw new CliException("cannot read " + what + " " + path + ": " + describe(e));
    }
    return toBinary(bytes, path.toString());
  }

  /** Binary modules pass through; WAT text is converted with wabt's wat2wasm if installed. */
  static byte[] toBinary(byte[] bytes, String name) throws IOException {
    if (bytes.length >= 4
        && bytes[0] == 0
        && bytes[1] == 'a'
        && bytes[2] == 's'
        && bytes[3] == 'm') {
      return bytes;
    }
    if (!looksLikeText(bytes)) {
      return bytes; // let the parser report what is wrong, with its offset
    }
    Path tmpIn = Files.createTempFile("wizer4j-", ".wat");
    Path tmpOut = Files.createTempFile("wizer4j-", ".wasm");
    try {
      Files.write(tmpIn, bytes);
      Process p;
      try {
        p =
            new ProcessBuilder(
                    "wat2wasm", "--enable-all", tmpIn.toString(), "-o", tmpOut.toString())
                .redirectErrorStream(true)
                .start();
      } catch (IOException e) {
        throw new CliException(
            name
                + " is WebAssembly text (WAT); converting it needs wabt's `wat2wasm` on the PATH"
                + " (apt-get install wabt), or pass a binary .wasm module");
      }
      byte[] log;
      try (InputStream in = p.getInputStream()) {
        log = in.readAllBytes();
      }
      boolean done;
      try {
        done = p.waitFor(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CliException("interrupted while converting " + name);
      }
      if (!done || p.exitValue() != 0) {
        String text = new String(log, java.nio.charset.StandardCharsets.UTF_8).trim();
        text = text.replace(tmpIn.toString(), name);
        // wat2wasm shows the offending line and a caret under it; the first line says it all.
        int nl = text.indexOf('\n');
        throw new CliException(
            "cannot convert WAT "
                + name
                + ": "
                + Names.oneLine(nl < 0 ? text : text.substring(0, nl)));
      }
      return Files.readAllBytes(tmpOut);
    } finally {
      Files.deleteIfExists(tmpIn);
      Files.deleteIfExists(tmpOut);
    }
  }

  private static boolean looksLikeText(byte[] b) {
    int n = Math.min(b.length, 512);
    for (int i = 0; i < n; i++) {
      int c = b[i] & 0xff;
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return c == '(' || c == ';';
      }
    }
    return false;
  }

  /** {@code wizer4j 0.2.0 (Endive 1.0.0, Java 17.0.15)}: what a bug report needs. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {
        "wizer4j "
            + property(Main.class, "version.properties", "version")
            + " (Endive "
            + property(
                Instance.class, "/META-INF/maven/run.endive/runtime/pom.properties", "version")
            + ", Java "
            + System.getProperty("java.version")
            + ")"
      };
    }

    /** A value from a properties resource next to {@code anchor}, or "unknown". */
    private static String property(Class<?> anchor, String resource, String key) {
      try (InputStream in = anchor.getResourceAsStream(resource)) {
        if (in != null) {
          java.util.Properties p = new java.util.Properties();
          p.load(in);
          String v = p.getProperty(key);
          if (v != null && !v.isBlank() && !v.startsWith("${")) {
            return v.trim();
          }
        }
      } catch (IOException e) {
        // fall through: a version is never worth a failure
      }
      return "unknown";
    }
  }
}
