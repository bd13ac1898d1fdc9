package dev.wizer4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.testing.Wat;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Runs the command line in this JVM (or, for the as-a-user checks, in a new one). */
final class Cli {
  private Cli() {}

  /** What one run of the command line left behind. */
  record Result(int exit, byte[] stdout, String stderr) {
    List<String> errorLines() {
      return stderr.lines().filter(l -> l.startsWith("error:")).collect(Collectors.toList());
    }

    String describe() {
      return "exit " + exit + ", stdout " + stdout.length + " bytes, stderr:\n" + stderr;
    }
  }

  static Result run(String... args) {
    return runWithStdin(null, args);
  }

  /**
   * Runs {@link Main#run} in process. When {@code stdin} is not null it replaces {@code System.in}
   * for the duration of the run (tests in this module run one at a time).
   */
  static Result runWithStdin(byte[] stdin, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    InputStream oldIn = System.in;
    if (stdin != null) {
      System.setIn(new ByteArrayInputStream(stdin));
    }
    int exit;
    try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
        PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      exit = Main.run(args, o, e);
    } finally {
      System.setIn(oldIn);
    }
    return new Result(exit, out.toByteArray(), err.toString(StandardCharsets.UTF_8));
  }

  /**
   * Runs {@code java -cp <this test's class path> dev.wizer4j.cli.Main args}, as a user would run
   * the launcher (minus the build step), feeding {@code stdin} (may be null) to it.
   */
  static Result runProcess(Path workDir, byte[] stdin, String... args) {
    return runProcess(workDir, stdin, List.of(), args);
  }

  static Result runProcess(Path workDir, byte[] stdin, List<String> jvmOptions, String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(Arrays.asList(args));
    try {
      Path errFile = Files.createTempFile("wizer4j-cli-test", ".err");
      try {
        Process p =
            new ProcessBuilder(cmd)
                .directory(workDir.toFile())
                .redirectError(errFile.toFile())
                .start();
        try (var in = p.getOutputStream()) {
          if (stdin != null) {
            in.write(stdin);
          }
        }
        byte[] out;
        try (var o = p.getInputStream()) {
          out = o.readAllBytes();
        }
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new AssertionError("wizer4j did not finish in 120 s: " + cmd);
        }
        return new Result(p.exitValue(), out, Files.readString(errFile));
      } finally {
        Files.deleteIfExists(errFile);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  static byte[] wat(String text, String... flags) {
    return Wat.compile(text, flags);
  }

  static Path write(Path dir, String name, byte[] bytes) {
    try {
      return Files.write(dir.resolve(name), bytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] read(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Asserts a successful run that printed nothing but (optionally) its module. */
  static Result assertSucceeds(Result r) {
    assertEquals(0, r.exit(), r::describe);
    assertTrue(r.errorLines().isEmpty(), r::describe);
    return r;
  }

  /** Asserts that {@code wasm} is a valid module according to wabt's independent validator. */
  static void assertValid(byte[] wasm) {
    assertNull(Wat.validate(wasm), "wasm-validate rejects the output");
  }

  /**
   * Asserts a failed run: status {@code expectedExit} (or any of 1..125 if 0), exactly one {@code
   * error:} line containing every one of {@code messageParts}, and no stack trace.
   */
  static String assertFails(Result r, int expectedExit, String... messageParts) {
    if (expectedExit == 0) {
      assertTrue(r.exit() >= 1 && r.exit() <= 125, r::describe);
    } else {
      assertEquals(expectedExit, r.exit(), r::describe);
    }
    List<String> errors = r.errorLines();
    assertEquals(1, errors.size(), () -> "expected exactly one error line; " + r.describe());
    String line = errors.get(0);
    for (String part : messageParts) {
      assertTrue(
          line.contains(part), () -> "expected «" + part + "» in the error line «" + line + "»");
    }
    assertFalse(r.stderr().contains("\tat "), () -> "unexpected stack trace; " + r.describe());
    assertFalse(r.stderr().contains("Exception"), () -> "exception class leaked; " + r.describe());
    assertEquals(0, r.stdout().length, "a failed run writes nothing to stdout");
    return line;
  }

  /** Files in {@code dir} whose names look like an abandoned temporary output. */
  static List<String> leftoverTemporaries(Path dir) {
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".tmp") || n.startsWith("."))
          .sorted()
          .collect(Collectors.toList());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void assertNoTemporaries(Path dir) {
    assertEquals(List.of(), leftoverTemporaries(dir), "temporary files left in " + dir);
  }

  static void assertUnchanged(Path file, byte[] before) {
    assertTrue(Files.exists(file), file + " was deleted");
    assertArrayEquals(before, read(file), file + " was changed");
  }

  /** Instantiates an output (its init does not run again); imports trap if called. */
  static run.endive.runtime.Instance instantiate(byte[] wasm) {
    run.endive.wasm.WasmModule m = run.endive.wasm.Parser.parse(wasm);
    List<run.endive.runtime.ImportFunction> stubs = new ArrayList<>();
    for (int i = 0; i < m.importSection().importCount(); i++) {
      var imp = m.importSection().getImport(i);
      if (imp instanceof run.endive.wasm.types.FunctionImport f) {
        stubs.add(
            new run.endive.runtime.HostFunction(
                imp.module(),
                imp.name(),
                m.typeSection().getType(f.typeIndex()),
                (inst, args) -> {
                  throw new AssertionError("the output called " + imp.name());
                }));
      }
    }
    return run.endive.runtime.Instance.builder(m)
        .withImportValues(run.endive.runtime.ImportValues.builder().withFunctions(stubs).build())
        .build();
  }
}
