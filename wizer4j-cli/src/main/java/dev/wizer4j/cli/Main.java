package dev.wizer4j.cli;

import dev.wizer4j.Names;
import dev.wizer4j.Progress;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.cli.CliException.UsageException;
import dev.wizer4j.cli.OptionValues.Pair;
import dev.wizer4j.endive.EndiveRuntime;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The {@code wizer4j} command line: Wizer's options mapped onto {@link Wizer.Builder}, the
 * runtime's onto {@link EndiveRuntime.Builder} ({@link RuntimeOptions}). Values are checked by
 * picocli converters ({@link OptionValues}) as the command line is read; {@link #call} builds,
 * reads the input, runs and writes; the rest is the exit status and one error line for every
 * failure.
 */
@Command(
    name = "wizer4j",
    mixinStandardHelpOptions = true,
    versionProvider = Version.class,
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
      converter = OptionValues.NonEmpty.class,
      description = "The export to call to initialize the module (default: ${DEFAULT-VALUE}).")
  String initFunc;

  @Option(
      names = {"-r", "--rename-func", "--func-rename"},
      paramLabel = "DST=SRC",
      converter = OptionValues.EqualsPair.class,
      description = "Export function SRC as DST in the output, replacing any DST. Repeatable.")
  List<Pair> renames = new ArrayList<>();

  @Option(
      names = "--keep-init-func",
      arity = "0..1",
      fallbackValue = "true",
      paramLabel = "true|false",
      description = "Keep the init function's export in the output (default: false).")
  boolean keepInitFunc;

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

  @Mixin RuntimeOptions runtime;

  @Mixin FeatureOptions features;

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
          String badValue = OptionValues.message(ex);
          if (badValue != null) {
            stderr.println("error: " + Names.oneLine(badValue));
          } else {
            stderr.println("error: " + usageMessage(ex));
            stderr.println("Try 'wizer4j --help' for more information.");
          }
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

  @Override
  public Integer call() throws IOException {
    long start = System.nanoTime();
    boolean toStdout = output == null || output.equals("-");
    Wizer.Builder wizer = wizerBuilder();
    // The guest's stdout must never mix with a module written to stdout.
    EndiveRuntime rt = runtime.build(toStdout ? stderr : null);
    VerboseProgress progress = verbose ? new VerboseProgress(stderr) : null;
    try (HeartbeatProgress heartbeat = quiet ? null : HeartbeatProgress.start(stderr)) {
      wizer.runtime(rt).progress(both(progress, heartbeat));
      byte[] wasm = readInput(progress);
      byte[] out = wizer.build().run(wasm);
      writeOutput(out, toStdout, progress, start);
      return 0;
    }
  }

  private Wizer.Builder wizerBuilder() {
    Wizer.Builder b =
        Wizer.builder()
            .initFunc(initFunc)
            .keepInitFunc(keepInitFunc)
            .keepInstrumentation(keepInstrumentation)
            .instrumentedInput(instrumented);
    for (Pair r : renames) {
      UsageException.check(() -> b.renameFunc(r.left(), r.right()));
    }
    return b;
  }

  private byte[] readInput(VerboseProgress progress) throws IOException {
    boolean stdin = input == null || input.equals("-");
    byte[] wasm = stdin ? ModuleInput.readStdin() : ModuleInput.read(Path.of(input), "input");
    if (progress != null) {
      stderr.printf(
          Locale.ROOT, "wizer4j: read %s (%d bytes)%n", stdin ? "<stdin>" : input, wasm.length);
    }
    return wasm;
  }

  private void writeOutput(byte[] out, boolean toStdout, VerboseProgress progress, long start)
      throws IOException {
    if (toStdout) {
      OutputFile.write(stdout, out);
    } else {
      OutputFile.write(Path.of(output), out);
    }
    if (progress != null) {
      progress.finish();
      stderr.printf(
          Locale.ROOT,
          "wizer4j: wrote %s (%d bytes) in %.1f ms%n",
          toStdout ? "<stdout>" : output,
          out.length,
          (System.nanoTime() - start) / 1e6);
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
}
