package dev.wizer4j.cli;

import static dev.wizer4j.cli.Cli.assertFails;
import static dev.wizer4j.cli.Cli.assertNoTemporaries;
import static dev.wizer4j.cli.Cli.assertSucceeds;
import static dev.wizer4j.cli.Cli.assertUnchanged;
import static dev.wizer4j.cli.Cli.read;
import static dev.wizer4j.cli.Cli.run;
import static dev.wizer4j.cli.Cli.wat;
import static dev.wizer4j.cli.Cli.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code -o} writes into the path the user named: regular files are replaced atomically, and
 * nothing that is not a regular file (a symlink, a FIFO, a device) is ever replaced.
 */
class OutputFileTest {
  static final byte[] PRECIOUS = "precious bytes, not a module\n".getBytes(StandardCharsets.UTF_8);

  static byte[] module;
  static byte[] expected;

  @TempDir Path dir;
  Path in;

  @BeforeAll
  static void compile() throws IOException {
    module =
        wat(
            """
            (module
              (global $g (mut i32) (i32.const 0))
              (func (export "wizer-initialize") (global.set $g (i32.const 42)))
              (func (export "g") (result i32) (global.get $g)))
            """);
  }

  @BeforeEach
  void input() {
    in = write(dir, "in.wasm", module);
    if (expected == null) {
      assertSucceeds(run(in.toString(), "-o", dir.resolve("reference.wasm").toString()));
      expected = read(dir.resolve("reference.wasm"));
    }
  }

  @Test
  void regularFileIsReplacedKeepingItsMode() throws IOException {
    Path out = write(dir, "out.wasm", PRECIOUS);
    Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rw-r-----"));
    Object inode = Files.readAttributes(out, BasicFileAttributes.class).fileKey();
    assertSucceeds(run(in.toString(), "-o", out.toString()));
    assertArrayEquals(expected, read(out));
    assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(out)));
    assertFalse(
        inode.equals(Files.readAttributes(out, BasicFileAttributes.class).fileKey()),
        "replaced by rename, not rewritten in place");
    assertNoTemporaries(dir);
  }

  @Test
  void symlinkIsKeptAndItsTargetWritten() throws IOException {
    Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"));
    Path target = write(elsewhere, "target.wasm", PRECIOUS);
    Path link =
        Files.createSymbolicLink(dir.resolve("link.wasm"), Path.of("elsewhere/target.wasm"));
    Path chain = Files.createSymbolicLink(dir.resolve("chain.wasm"), Path.of("link.wasm"));

    assertSucceeds(run(in.toString(), "-o", chain.toString()));

    assertTrue(Files.isSymbolicLink(chain), "the link at -o is not replaced");
    assertTrue(Files.isSymbolicLink(link));
    assertEquals(Path.of("link.wasm"), Files.readSymbolicLink(chain));
    assertArrayEquals(expected, read(target));
    assertNoTemporaries(dir);
    assertNoTemporaries(elsewhere);
  }

  @Test
  void danglingSymlinkCreatesItsTarget() throws IOException {
    Path sub = Files.createDirectory(dir.resolve("sub"));
    Path link = Files.createSymbolicLink(dir.resolve("link.wasm"), Path.of("sub/new.wasm"));
    assertSucceeds(run(in.toString(), "-o", link.toString()));
    assertTrue(Files.isSymbolicLink(link));
    assertArrayEquals(expected, read(sub.resolve("new.wasm")));
    assertNoTemporaries(dir);
    assertNoTemporaries(sub);
  }

  @Test
  void failureLeavesTheSymlinkTargetAlone() throws IOException {
    Path target = write(dir, "target.bin", PRECIOUS);
    Path link = Files.createSymbolicLink(dir.resolve("link.wasm"), target.getFileName());
    byte[] trap = wat("(module (func (export \"wizer-initialize\") unreachable))");
    assertFails(run(write(dir, "trap.wasm", trap).toString(), "-o", link.toString()), 1);
    assertTrue(Files.isSymbolicLink(link));
    assertUnchanged(target, PRECIOUS);
    assertNoTemporaries(dir);
  }

  @Test
  void fifoIsWrittenThroughNotReplaced() throws Exception {
    Path fifo = dir.resolve("out.fifo");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assumeTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo is available");
    CompletableFuture<byte[]> reader =
        CompletableFuture.supplyAsync(
            () -> {
              try (InputStream s = Files.newInputStream(fifo)) {
                return s.readAllBytes();
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    assertSucceeds(run(in.toString(), "-o", fifo.toString()));
    assertArrayEquals(expected, reader.get(30, TimeUnit.SECONDS));
    assertTrue(
        Files.readAttributes(fifo, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther(),
        "the FIFO is still a FIFO");
    assertNoTemporaries(dir);
  }

  @Test
  void devNullIsWrittenThroughNotReplaced() throws IOException {
    Path devNull = Path.of("/dev/null");
    assumeTrue(Files.exists(devNull), "/dev/null exists");
    Object key = Files.readAttributes(devNull, BasicFileAttributes.class).fileKey();
    assertSucceeds(run(in.toString(), "-o", "/dev/null"));
    BasicFileAttributes after = Files.readAttributes(devNull, BasicFileAttributes.class);
    assertTrue(after.isOther(), "/dev/null is still a device");
    assertEquals(key, after.fileKey(), "/dev/null is the same node");
    assertEquals(0, Files.size(devNull));
  }

  @Test
  void devStdoutIsWrittenThrough() {
    assumeTrue(Files.exists(Path.of("/dev/stdout")), "/dev/stdout exists");
    // In a new JVM: its stdout is a pipe to this test, which a rename could never reach.
    Cli.Result r = Cli.runProcess(dir, null, "in.wasm", "-o", "/dev/stdout");
    assertEquals(0, r.exit(), r::describe);
    assertArrayEquals(expected, r.stdout());
    assertNoTemporaries(dir);
  }

  @Test
  void symlinkToDevNullIsWrittenThrough() throws IOException {
    assumeTrue(Files.exists(Path.of("/dev/null")), "/dev/null exists");
    Path link = Files.createSymbolicLink(dir.resolve("null.wasm"), Path.of("/dev/null"));
    assertSucceeds(run(in.toString(), "-o", link.toString()));
    assertEquals(Path.of("/dev/null"), Files.readSymbolicLink(link));
    assertNoTemporaries(dir);
  }

  @Test
  void directoryIsRefusedEvenThroughASymlink() throws IOException {
    Path sub = Files.createDirectory(dir.resolve("sub"));
    Path link = Files.createSymbolicLink(dir.resolve("dirlink"), sub.getFileName());
    assertFails(run(in.toString(), "-o", link.toString()), 1, "dirlink", "is a directory");
    assertTrue(Files.isSymbolicLink(link));
    assertTrue(Files.isDirectory(sub));
    assertNoTemporaries(dir);
  }

  @Test
  void symlinkLoopIsOneErrorLine() throws IOException {
    Path a = Files.createSymbolicLink(dir.resolve("a.wasm"), Path.of("b.wasm"));
    Files.createSymbolicLink(dir.resolve("b.wasm"), Path.of("a.wasm"));
    assertFails(run(in.toString(), "-o", a.toString()), 1, "a.wasm");
    assertTrue(Files.isSymbolicLink(a));
    assertNoTemporaries(dir);
  }
}
