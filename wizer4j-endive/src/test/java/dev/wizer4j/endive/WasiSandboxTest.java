package dev.wizer4j.endive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.wizer4j.Wizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real guest ({@code fixtures/c/wasi/sandbox.c}) tries to get out of its preopened directory
 * through a maze of symlinks built in a temporary directory. Every way out must fail with the errno
 * wasmtime gives (EPERM for an escape, as the WASI filesystem path-resolution rules say), nothing
 * outside may be read, created or changed, and links that stay inside must keep working.
 */
class WasiSandboxTest {
  // WASI preview1 errno values.
  static final String EPERM = "errno 63";
  static final String ENOENT = "errno 44";
  static final String ELOOP = "errno 32";
  static final String EEXIST = "errno 20";

  @TempDir Path tmp;
  Path root;
  Path outside;
  Path secret;

  @BeforeEach
  void maze() throws IOException {
    outside = Files.createDirectories(tmp.resolve("outside"));
    secret = Files.writeString(outside.resolve("secret.txt"), "SECRET");
    root = Files.createDirectories(tmp.resolve("root"));
    Files.writeString(root.resolve("inside.txt"), "INSIDE");
    Files.createDirectories(root.resolve("sub"));
    Files.writeString(root.resolve("sub/inner.txt"), "INNER");
    link("sub/up", "../inside.txt"); // relative to the link's own directory
    link("link-in", "inside.txt");
    link("dirlink-in", "sub");
    link("chain1", "chain2");
    link("chain2", "sub/up");
    link("abs-out", secret.toString());
    link("abs-in", root.resolve("inside.txt").toString());
    link("dir-out", outside.toString());
    link("reldir-out", "../outside");
    link("rel-out", "../outside/secret.txt");
    link("sub/rel-out2", "../../outside/secret.txt");
    link("chain-out1", "chain-out2");
    link("chain-out2", "sub/rel-out2");
    link("dangling", "no-such-file");
    link("dangling-out", "../outside/new-file.txt");
    link("dangling-abs", outside.resolve("new-abs.txt").toString());
    link("loop1", "loop2");
    link("loop2", "loop1");
    // A relative target that exists only relative to the process's working directory.
    link("cwd-rel", "pom.xml");
  }

  private void link(String at, String target) throws IOException {
    Files.createSymbolicLink(root.resolve(at), Path.of(target));
  }

  /** Runs the guest with {@code ops} (one per line) and returns its answer per operation. */
  private Map<String, String> run(String... ops) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    EndiveRuntime rt =
        EndiveRuntime.builder()
            .allowWasi(true)
            .env("OPS", String.join("\n", ops))
            .mapDir("/sandbox", root)
            .stdout(out)
            .build();
    Wizer.builder().runtime(rt).build().run(RealModulesTest.fixtureUnchecked("wasi/sandbox"));
    Map<String, String> answers = new LinkedHashMap<>();
    for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
      int colon = line.lastIndexOf(": ");
      if (colon > 0) {
        answers.put(line.substring(0, colon), line.substring(colon + 2));
      }
    }
    assertEquals(ops.length, answers.size(), "one answer per operation: " + answers);
    return answers;
  }

  private void assertAnswers(String... opThenAnswer) {
    List<String> ops = new ArrayList<>();
    for (int i = 0; i < opThenAnswer.length; i += 2) {
      ops.add(opThenAnswer[i]);
    }
    Map<String, String> got = run(ops.toArray(String[]::new));
    StringBuilder want = new StringBuilder();
    StringBuilder have = new StringBuilder();
    for (int i = 0; i < opThenAnswer.length; i += 2) {
      want.append(opThenAnswer[i]).append(": ").append(opThenAnswer[i + 1]).append('\n');
      have.append(opThenAnswer[i]).append(": ").append(got.get(opThenAnswer[i])).append('\n');
    }
    assertEquals(want.toString(), have.toString());
  }

  @Test
  void readsStayInside() {
    assertAnswers(
        "read inside.txt",
        "ok INSIDE",
        "read sub/inner.txt",
        "ok INNER",
        "read sub/../inside.txt",
        "ok INSIDE",
        "read ./sub/./inner.txt",
        "ok INNER",
        "read ../outside/secret.txt",
        EPERM,
        "read sub/../../outside/secret.txt",
        EPERM,
        "read " + secret,
        EPERM,
        "read /inside.txt",
        EPERM,
        "read abs-out",
        EPERM,
        "read abs-in",
        EPERM,
        "read dir-out/secret.txt",
        EPERM,
        "read reldir-out/secret.txt",
        EPERM,
        "read rel-out",
        EPERM,
        "read sub/rel-out2",
        EPERM,
        "read chain-out1",
        EPERM,
        "read dangling-out",
        EPERM,
        "read cwd-rel",
        ENOENT,
        "read dangling",
        ENOENT,
        "read loop1",
        ELOOP);
  }

  @Test
  void linksThatStayInsideKeepWorking() {
    assertAnswers(
        "read link-in", "ok INSIDE",
        "read dirlink-in/inner.txt", "ok INNER",
        "read sub/up", "ok INSIDE",
        "read chain1", "ok INSIDE",
        "read dirlink-in/up", "ok INSIDE",
        "read dirlink-in/../inside.txt", "ok INSIDE",
        "read-nofollow link-in", ELOOP,
        "stat chain1", "ok type=4 size=6",
        "lstat abs-out", "ok type=7 size=" + secret.toString().length(),
        "readlink sub/up", "ok ../inside.txt",
        "readlink chain2", "ok sub/up",
        "readlink abs-out", EPERM,
        "opendir-read dirlink-in inner.txt", "ok INNER",
        "opendir-read sub up", EPERM,
        "opendir-read sub ../inside.txt", EPERM,
        "opendir-read dir-out secret.txt", EPERM);
  }

  @Test
  void createsStayInside() throws IOException {
    assertAnswers(
        "create new.txt",
        "ok",
        "create dirlink-in/new2.txt",
        "ok",
        "create ../escape.txt",
        EPERM,
        "create " + outside.resolve("abs.txt"),
        EPERM,
        "create dir-out/pwned.txt",
        EPERM,
        "create reldir-out/pwned.txt",
        EPERM,
        "create abs-out",
        EPERM,
        "create rel-out",
        EPERM,
        "create dangling-out",
        EPERM,
        "create dangling-abs",
        EPERM,
        "mkdir dir-out/newdir",
        EPERM,
        "mkdir ../newdir",
        EPERM,
        "mkdir inner-dir",
        "ok",
        "mkdir link-in",
        EEXIST);
    assertEquals("created by guest", Files.readString(root.resolve("new.txt")));
    assertEquals("created by guest", Files.readString(root.resolve("sub/new2.txt")));
    assertEquals("SECRET", Files.readString(secret));
    assertEquals(List.of("secret.txt"), list(outside));
    assertFalse(Files.exists(tmp.resolve("escape.txt")));
    assertFalse(Files.exists(tmp.resolve("newdir")));
  }

  @Test
  void changesStayInside() throws IOException {
    assertAnswers(
        "unlink dir-out/secret.txt", EPERM,
        "unlink ../outside/secret.txt", EPERM,
        "stat dir-out/secret.txt", EPERM,
        "stat abs-out", EPERM,
        "rename inside.txt dir-out/moved.txt", EPERM,
        "rename dir-out/secret.txt stolen.txt", EPERM,
        "link dir-out/secret.txt hard.txt", EPERM,
        "link inside.txt dir-out/hard.txt", EPERM,
        "rmdir dir-out", "errno 54",
        "symlink ../outside/secret.txt made-link", "ok",
        "read made-link", EPERM,
        "symlink /etc/passwd made-abs", EPERM,
        "readlink made-abs", ENOENT,
        "create dangling", "ok",
        "read dangling", "ok created by guest",
        "unlink abs-out", "ok",
        "rename sub/inner.txt moved.txt", "ok");
    assertEquals("SECRET", Files.readString(secret));
    assertEquals(List.of("secret.txt"), list(outside));
    assertFalse(Files.exists(root.resolve("stolen.txt")));
    assertEquals("INNER", Files.readString(root.resolve("moved.txt")));
    assertEquals("created by guest", Files.readString(root.resolve("no-such-file")));
    assertEquals(
        Path.of("../outside/secret.txt"), Files.readSymbolicLink(root.resolve("made-link")));
  }

  private static List<String> list(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }
}
