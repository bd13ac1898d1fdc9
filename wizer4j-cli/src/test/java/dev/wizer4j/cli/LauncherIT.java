package dev.wizer4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/wizer4j as another tool calls it (componentize-js's wizerBin): {@code env -i
 * PATH=/usr/bin:/bin}, no JAVA_HOME, several calls at once. Runs after {@code package} on a copy of
 * the launcher next to the packaged jar, so that nothing here builds the real checkout.
 */
class LauncherIT {
  @TempDir Path tmp;

  private Path root;
  private byte[] expected;

  private static Path checkout() {
    return CliSuccessTest.examplesDir().getParent();
  }

  private static Path realJar() {
    return checkout().resolve("wizer4j-cli/target/wizer4j.jar");
  }

  /** A checkout of the launcher, hello.wasm and (unless {@code withJar} is false) the jar. */
  @BeforeEach
  void layout() throws IOException {
    root = tmp.resolve("wizer4j");
    Files.createDirectories(root.resolve("bin"));
    Files.createDirectories(root.resolve("examples"));
    Files.createDirectories(root.resolve("wizer4j-cli/target"));
    Files.copy(checkout().resolve("bin/wizer4j"), root.resolve("bin/wizer4j"));
    Files.copy(checkout().resolve("bin/jvm.options"), root.resolve("bin/jvm.options"));
    Files.copy(checkout().resolve("examples/hello.wasm"), root.resolve("examples/hello.wasm"));
    assertTrue(Files.isRegularFile(realJar()), "run after package: " + realJar());
    Path reference = tmp.resolve("reference.wasm");
    Cli.assertSucceeds(
        Cli.run(root.resolve("examples/hello.wasm").toString(), "-o", reference.toString()));
    expected = Files.readAllBytes(reference);
  }

  private record Run(int exit, byte[] stdout, String stderr) {
    String describe() {
      return "exit " + exit + ", stdout " + stdout.length + " bytes, stderr:\n" + stderr;
    }
  }

  /** {@code env -i PATH=path bin/wizer4j examples/hello.wasm}: the module goes to stdout. */
  private Run launch(String path) {
    try {
      Process p =
          new ProcessBuilder(
                  "/usr/bin/env",
                  "-i",
                  "PATH=" + path,
                  root.resolve("bin/wizer4j").toString(),
                  root.resolve("examples/hello.wasm").toString())
              .directory(tmp.toFile())
              .start();
      CompletableFuture<byte[]> err =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return p.getErrorStream().readAllBytes();
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
      byte[] out = p.getInputStream().readAllBytes();
      assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the launcher finished");
      return new Run(p.exitValue(), out, new String(err.join(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private void assertModuleOnStdout(Run r) {
    assertEquals(0, r.exit(), r::describe);
    assertArrayEquals(expected, r.stdout(), "stdout holds the module and nothing else");
  }

  @Test
  void minimalEnvironmentFindsAJdk() throws IOException {
    Files.copy(realJar(), root.resolve("wizer4j-cli/target/wizer4j.jar"));
    assertModuleOnStdout(launch("/usr/bin:/bin"));
  }

  /**
   * The call componentize-js makes: {@code spawnSync(wizerBin, args, {shell: true, env})} with an
   * env of its own variables only (no PATH at all), options written with '=', output to a file.
   */
  @Test
  void componentizeJsStyleCall() throws Exception {
    Files.copy(realJar(), root.resolve("wizer4j-cli/target/wizer4j.jar"));
    Path sourceDir = Files.createDirectories(tmp.resolve("source"));
    Path out = tmp.resolve("out.wasm");
    String command =
        String.join(
            " ",
            root.resolve("bin/wizer4j").toString(),
            "--allow-wasi",
            "--init-func",
            "wizer-initialize",
            "--dir=" + sourceDir,
            "--wasm-bulk-memory=true",
            "--inherit-env=true",
            "-o=" + out,
            root.resolve("examples/hello.wasm").toString());
    Process p =
        new ProcessBuilder(
                "/usr/bin/env", "-i", "EXPORT_CNT=0", "DEBUG=0", "/bin/sh", "-c", command)
            .directory(tmp.toFile())
            .redirectErrorStream(true)
            .start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), log);
    assertEquals("", log, "nothing on stdout or stderr");
    assertArrayEquals(expected, Files.readAllBytes(out));
  }

  /**
   * With {@code --inherit-env} the guest gets the environment the launcher was started with, as
   * Wizer's guest would: not the variables bash adds to it ({@code PWD}, {@code SHLVL}, {@code _}).
   */
  @Test
  void theGuestInheritsTheCallersEnvironmentNotTheLaunchersShell() throws Exception {
    Files.copy(realJar(), root.resolve("wizer4j-cli/target/wizer4j.jar"));
    Path in = tmp.resolve("environ.wasm");
    Files.write(
        in,
        Cli.wat(
            "(module (import \"wasi_snapshot_preview1\" \"environ_sizes_get\""
                + " (func $sizes (param i32 i32) (result i32)))"
                + " (import \"wasi_snapshot_preview1\" \"environ_get\""
                + " (func $get (param i32 i32) (result i32)))"
                + " (memory 1)"
                + " (func (export \"wizer-initialize\")"
                + " (drop (call $sizes (i32.const 0) (i32.const 4)))"
                + " (drop (call $get (i32.const 16) (i32.const 1024)))))"));
    Path out = tmp.resolve("environ.out.wasm");
    Process p =
        new ProcessBuilder(
                "/usr/bin/env",
                "-i",
                "PATH=/usr/bin:/bin",
                "GUEST_SEES=this",
                root.resolve("bin/wizer4j").toString(),
                "--allow-wasi",
                "--inherit-env",
                in.toString(),
                "-o",
                out.toString())
            .directory(tmp.toFile())
            .redirectErrorStream(true)
            .start();
    String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), log);
    String memory = new String(Files.readAllBytes(out), StandardCharsets.ISO_8859_1);
    assertTrue(memory.contains("GUEST_SEES=this"), "the caller's variable reaches the guest");
    assertTrue(memory.contains("PATH=/usr/bin:/bin"), "the caller's PATH reaches the guest");
    for (String added : List.of("PWD=", "SHLVL=", "OLDPWD=")) {
      assertFalse(memory.contains(added), added + " was added on the way to the guest");
    }
  }

  @Test
  void noJavaOnPathFindsAnInstalledJdk() throws IOException {
    String javaHome = System.getProperty("java.home");
    assumeTrue(
        javaHome.startsWith("/usr/lib/jvm/") || javaHome.startsWith("/opt/java/"),
        "this JDK is not where the launcher looks: " + javaHome);
    Files.copy(realJar(), root.resolve("wizer4j-cli/target/wizer4j.jar"));
    // Every tool of /usr/bin and /bin but those of a JDK.
    Path bin = Files.createDirectories(tmp.resolve("no-java-bin"));
    for (String dir : List.of("/usr/bin", "/bin")) {
      try (Stream<Path> tools = Files.list(Path.of(dir))) {
        for (Path tool : (Iterable<Path>) tools::iterator) {
          Path link = bin.resolve(tool.getFileName());
          if (Files.exists(link) || !Files.exists(tool)) {
            continue;
          }
          Path real = tool.toRealPath();
          if (real.startsWith("/usr/lib/jvm") || real.startsWith("/opt/java")) {
            continue;
          }
          Files.createSymbolicLink(link, tool);
        }
      }
    }
    assertTrue(!Files.exists(bin.resolve("java")));
    assertModuleOnStdout(launch(bin.toString()));
  }

  /**
   * Three first calls at once build once: a stand-in for Maven records its calls and whether two
   * overlapped, takes a while, then puts the jar in place.
   */
  @Test
  void concurrentFirstCallsBuildOnce() throws Exception {
    Path fakeBin = Files.createDirectories(tmp.resolve("fake-maven"));
    Path calls = tmp.resolve("mvn-calls");
    Path running = tmp.resolve("mvn-running");
    Path mvn = fakeBin.resolve("mvn");
    Files.writeString(
        mvn,
        "#!/bin/sh\n"
            + ("mkdir '" + running + "' 2>/dev/null || echo overlap >> '" + calls + "'\n")
            + ("echo call >> '" + calls + "'\n")
            + "sleep 2\n"
            + ("cp '" + realJar() + "' '" + root.resolve("wizer4j-cli/target/wizer4j.jar") + "'\n")
            + ("rmdir '" + running + "'\n"));
    Files.setPosixFilePermissions(mvn, PosixFilePermissions.fromString("rwxr-xr-x"));

    List<CompletableFuture<Run>> runs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      runs.add(CompletableFuture.supplyAsync(() -> launch(fakeBin + ":/usr/bin:/bin")));
    }
    for (CompletableFuture<Run> r : runs) {
      Run run = r.get(180, TimeUnit.SECONDS);
      assertModuleOnStdout(run);
    }
    assertEquals(List.of("call"), Files.readAllLines(calls), "Maven ran once, never twice at once");
  }
}
