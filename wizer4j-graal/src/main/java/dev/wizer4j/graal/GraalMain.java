package dev.wizer4j.graal;

import dev.wizer4j.Progress;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A command line for wizening on GraalWasm, with the subset of Wizer's options that GraalWasm
 * supports: {@code [-f NAME] [-r DST=SRC] [--keep-init-func] [--allow-wasi] [--inherit-env]
 * [--inherit-stdio] [--dir DIR] [--mapdir GUEST::HOST] [--wasm-FEATURE[=BOOL]] [-v] [-o OUT]
 * INPUT}, plus {@code --repeat N} for measuring: the whole pipeline N times in this JVM (the second
 * run is a warm one), printing each run's time. It exists so that the GraalWasm engine can be run
 * and measured from a shell (see {@code bin/wizer4j-graal}) until {@code wizer4j-cli} selects
 * runtimes; it maps options onto the builders and holds no logic of its own.
 */
public final class GraalMain {
  private GraalMain() {}

  public static void main(String[] args) {
    int status;
    try {
      status = run(args);
    } catch (WizerException | IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      status = 1;
    } catch (IOException e) {
      System.err.println("error: " + e);
      status = 1;
    } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
      // One line and a status, as for any other failure; the trace only on request.
      System.err.println("error: internal error: " + e);
      if (Boolean.getBoolean("wizer4j.trace")) {
        e.printStackTrace();
      }
      status = 2;
    }
    System.out.flush();
    // GraalWasm's compiler threads would otherwise keep the JVM alive a little while.
    System.exit(status);
  }

  static int run(String[] args) throws IOException {
    Wizer.Builder wizer = Wizer.builder();
    GraalRuntime.Builder runtime = GraalRuntime.builder();
    String input = null;
    String output = null;
    boolean verbose = false;
    int repeat = 1;
    List<String> rest = new ArrayList<>(List.of(args));
    while (!rest.isEmpty()) {
      String a = rest.remove(0);
      String name = a;
      String value = null;
      int eq = a.indexOf('=');
      if (a.startsWith("-") && eq > 0) {
        name = a.substring(0, eq);
        value = a.substring(eq + 1);
      }
      switch (name) {
        case "-f", "--init-func" -> wizer.initFunc(arg(name, value, rest));
        case "-o" -> output = arg(name, value, rest);
        case "-r", "--rename-func" -> {
          String r = arg(name, value, rest);
          int e = r.indexOf('=');
          if (e <= 0) {
            throw new IllegalArgumentException("--rename-func expects DST=SRC, got `" + r + "`");
          }
          wizer.renameFunc(r.substring(0, e), r.substring(e + 1));
        }
        case "--keep-init-func" -> wizer.keepInitFunc(bool(name, value));
        case "--allow-wasi" -> runtime.allowWasi(bool(name, value));
        case "--inherit-env" -> runtime.inheritEnv(bool(name, value));
        case "--inherit-stdio" -> runtime.inheritStdio(bool(name, value));
        case "--dir" -> runtime.dir(arg(name, value, rest));
        case "--mapdir" -> {
          String m = arg(name, value, rest);
          int sep = m.indexOf("::");
          if (sep < 0) {
            throw new IllegalArgumentException("--mapdir expects GUEST::HOST, got `" + m + "`");
          }
          runtime.mapDir(m.substring(0, sep), Path.of(m.substring(sep + 2)));
        }
        case "-v", "--verbose" -> verbose = true;
        case "--repeat" -> repeat = Integer.parseInt(arg(name, value, rest));
        default -> {
          if (name.startsWith("--wasm-")) {
            bool(name, value); // GraalWasm enables the proposals it supports
          } else if (a.startsWith("-") && !a.equals("-")) {
            throw new IllegalArgumentException("unknown option `" + a + "`");
          } else if (input != null) {
            throw new IllegalArgumentException("more than one input: `" + input + "`, `" + a + "`");
          } else {
            input = a;
          }
        }
      }
    }
    long start = System.nanoTime();
    StderrProgress progress = verbose ? new StderrProgress(start) : null;
    if (progress != null) {
      wizer.progress(progress);
    }
    if (output == null) {
      // The module goes to stdout; the guest's stdout must not.
      runtime.stdout(System.err);
    }
    if (repeat > 1 && input != null && !input.equals("-")) {
      // Every run must see the same stdin, not what the first one left of it.
      runtime.stdin(System.in.readAllBytes());
    }
    // GraalWasm's engine loads while the pipeline reads and validates the module.
    GraalRuntime graal = runtime.build().prepare();
    byte[] wasm = read(input);
    Wizer w = wizer.runtime(graal).build();
    byte[] out = null;
    for (int i = 1; i <= repeat; i++) {
      long t0 = System.nanoTime();
      out = w.run(wasm);
      if (repeat > 1) {
        System.err.printf("run %d: %.1f ms%n", i, (System.nanoTime() - t0) / 1e6);
      }
    }
    write(output, out);
    if (progress != null) {
      progress.stage("done");
    }
    return 0;
  }

  private static String arg(String name, String value, List<String> rest) {
    if (value != null) {
      return value;
    }
    if (rest.isEmpty()) {
      throw new IllegalArgumentException("option `" + name + "` needs a value");
    }
    return rest.remove(0);
  }

  private static boolean bool(String name, String value) {
    if (value == null || value.equals("true")) {
      return true;
    }
    if (value.equals("false")) {
      return false;
    }
    throw new IllegalArgumentException(
        "invalid value '" + value + "' for '" + name + "': expected true or false");
  }

  private static byte[] read(String input) throws IOException {
    if (input == null || input.equals("-")) {
      try (InputStream in = System.in) {
        return in.readAllBytes();
      }
    }
    return Files.readAllBytes(Path.of(input));
  }

  /** Writes to a temporary file next to {@code output} and moves it into place. */
  private static void write(String output, byte[] out) throws IOException {
    if (output == null) {
      System.out.write(out);
      return;
    }
    Path target = Path.of(output).toAbsolutePath();
    Path tmp = Files.createTempFile(target.getParent(), ".wizer4j-", ".tmp");
    try {
      Files.write(tmp, out);
      // createTempFile makes the file owner-only; an output module is an ordinary file.
      tmp.toFile().setReadable(true, false);
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Prints each stage with the time the previous one took, like the main CLI's {@code -v}. */
  private static final class StderrProgress implements Progress {
    private final long start;
    private long t0;
    private String current;

    StderrProgress(long start) {
      this.start = start;
      this.t0 = start;
    }

    @Override
    public synchronized void stage(String name) {
      long now = System.nanoTime();
      if (current != null) {
        System.err.printf("%-40s %9.1f ms%n", current, (now - t0) / 1e6);
      }
      if (name.equals("done")) {
        System.err.printf("%-40s %9.1f ms%n", "total (after JVM start)", (now - start) / 1e6);
      }
      current = name;
      t0 = now;
    }

    @Override
    public synchronized void note(String message) {
      System.err.println("  " + message);
    }
  }
}
