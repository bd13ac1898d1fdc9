package dev.wizer4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * WASI through the command line, in a new JVM whose environment the test controls: the guests of
 * {@code fixtures/wasm/wasi/} print what WASI answered them.
 */
class CliWasiTest {
  static final Path GUESTS = Path.of("..", "fixtures", "wasm", "wasi").toAbsolutePath();

  @TempDir Path dir;

  /**
   * Runs {@code env -i VARS... java ... Main ARGS} (so the JVM's environment holds exactly {@code
   * vars}, in that order) and returns its stdout, where the guest prints.
   */
  private String run(List<String> vars, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("env", "-i"));
    cmd.addAll(vars);
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Main.class.getName());
    cmd.addAll(List.of(args));
    Path err = dir.resolve("stderr.txt");
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(err.toFile()).start();
    p.getOutputStream().close(); // an empty stdin
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "wizer4j finished");
    assertEquals(0, p.exitValue(), out);
    // Nothing from the runtime's own logging (Endive logs fd_fdstat_set_rights as SEVERE).
    assertEquals("", Files.readString(err));
    Files.delete(err);
    return out;
  }

  @Test
  void inheritedEnvironmentKeepsTheProcessOrder() throws Exception {
    String out =
        run(
            List.of("ZED=1", "ALPHA=2", "MID=3"),
            "--allow-wasi",
            "--inherit-env",
            GUESTS.resolve("probe.wasm").toString(),
            "-o",
            "out.wasm");
    // wasmtime passes the environment in the process's order; sorting it would change the guest's
    // memory (a libc copies the strings in order).
    List<String> names =
        out.lines()
            .filter(l -> l.startsWith("  environ["))
            .map(l -> l.substring(l.lastIndexOf(": ") + 2))
            .toList();
    assertEquals(List.of("ZED", "ALPHA", "MID"), names, out);
  }

  @Test
  void dirAndMapdirKeepTheGuestInside() throws Exception {
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Files.writeString(outside.resolve("secret.txt"), "SECRET");
    Path root = Files.createDirectories(dir.resolve("root"));
    Files.writeString(root.resolve("inside.txt"), "INSIDE");
    Files.createSymbolicLink(root.resolve("dir-out"), outside);
    Files.createSymbolicLink(root.resolve("rel-out"), Path.of("../outside/secret.txt"));
    Files.createSymbolicLink(root.resolve("link-in"), Path.of("inside.txt"));
    String ops =
        String.join(
            "\n",
            "read link-in",
            "read dir-out/secret.txt",
            "read rel-out",
            "create dir-out/pwned.txt",
            "unlink dir-out/secret.txt");
    String want =
        String.join(
            "\n",
            "read link-in: ok INSIDE",
            "read dir-out/secret.txt: errno 63",
            "read rel-out: errno 63",
            "create dir-out/pwned.txt: errno 63",
            "unlink dir-out/secret.txt: errno 63",
            "");
    String sandbox = GUESTS.resolve("sandbox.wasm").toString();
    for (List<String> preopen :
        List.of(List.of("--mapdir", "/sandbox::" + root), List.of("--dir", root.toString()))) {
      List<String> args = new ArrayList<>(List.of("--allow-wasi", "--inherit-env"));
      args.addAll(preopen);
      args.addAll(List.of(sandbox, "-o", "out.wasm"));
      assertEquals(
          want, run(List.of("OPS=" + ops), args.toArray(String[]::new)), preopen::toString);
      assertEquals(List.of("secret.txt"), list(outside));
      assertEquals("SECRET", Files.readString(outside.resolve("secret.txt")));
    }
  }

  private static List<String> list(Path d) throws IOException {
    try (var s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
