package dev.wizer4j.endive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Progress;
import dev.wizer4j.Wizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import run.endive.compiler.Cache;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;

class EnginesTest {
  @TempDir Path tmp;

  /** A Wizer on Endive with {@code engine}, collecting the runtime's notes into {@code notes}. */
  static Wizer wizer(EndiveRuntime.Engine engine, List<String> notes) {
    return Wizer.builder()
        .runtime(EndiveRuntime.builder().engine(engine).build())
        .progress(
            new Progress() {
              @Override
              public void stage(String name) {}

              @Override
              public void note(String message) {
                synchronized (notes) {
                  notes.add(message);
                }
              }
            })
        .build();
  }

  /** The disk side of a cache, as Endive's compiler sees it. */
  static Cache disk(CompiledModuleCache c, java.util.function.Consumer<String> note) {
    return new Cache() {
      @Override
      public byte[] get(String digest) {
        return c.read(digest, note);
      }

      @Override
      public void putIfAbsent(String digest, byte[] data) {
        c.write(digest, data, note);
      }
    };
  }

  @Test
  void autoCompilesSmallModulesAndInterpretsLargeOnes() {
    assertTrue(Engines.choose(EndiveRuntime.Engine.AUTO, 12_000, false).compile());
    assertFalse(
        Engines.choose(EndiveRuntime.Engine.AUTO, Engines.AUTO_COMPILE_MAX_INSTRUCTIONS + 1, false)
            .compile());
    assertTrue(
        Engines.choose(EndiveRuntime.Engine.AUTO, Engines.AUTO_COMPILE_MAX_INSTRUCTIONS + 1, true)
            .compile(),
        "classes this JVM loaded already cost nothing to use");
    assertFalse(Engines.choose(EndiveRuntime.Engine.INTERPRETER, 10, true).compile());
    assertTrue(Engines.choose(EndiveRuntime.Engine.COMPILER, Long.MAX_VALUE, false).compile());
  }

  /**
   * A function whose bytecode exceeds a JVM method's 64 KiB, in a module with a name section: the
   * compiler crashed on this pair (it cast the undecoded name section); now the big function runs
   * interpreted, the others compiled, and the output equals the interpreter's.
   */
  @Test
  void functionTooLargeForTheJvmFallsBackToTheInterpreterAlone() {
    StringBuilder big = new StringBuilder();
    for (int i = 0; i < 12_000; i++) {
      big.append("local.get 0 i32.const ").append(i).append(" i32.xor local.set 0\n");
    }
    byte[] wasm =
        Harness.wat(
            "(module (memory 1) (global $g (mut i32) (i32.const 0))\n"
                + "(func $big (param i32) (result i32)\n"
                + big
                + "local.get 0)\n"
                + "(func $small (param i32) (result i32) local.get 0 i32.const 3 i32.mul)\n"
                + "(func (export \"wizer-initialize\")\n"
                + "  (global.set $g (call $small (call $big (i32.const 7))))\n"
                + "  (i32.store (i32.const 16) (global.get $g)))\n"
                + "(func (export \"g\") (result i32) global.get $g))",
            "--debug-names");
    assertNotNull(Parser.parse(wasm).customSection("name"), "the test needs a name section");
    List<String> notes = new ArrayList<>();
    byte[] compiled = wizer(EndiveRuntime.Engine.COMPILER, notes).run(wasm);
    byte[] interpreted = wizer(EndiveRuntime.Engine.INTERPRETER, new ArrayList<>()).run(wasm);
    assertArrayEquals(interpreted, compiled);
    assertTrue(
        notes.stream().noneMatch(n -> n.contains("compiler failed")),
        "the module compiled: " + notes);
    Harness.assertWizened(wizer(EndiveRuntime.Engine.COMPILER, new ArrayList<>()), wasm, "g");
  }

  @Test
  void theCompiledFormIsReusedWithinTheJvm() {
    CompiledModuleCache.clearLoaded();
    byte[] wasm =
        Harness.wat(
            "(module (global $g (mut i32) (i32.const 0))"
                + "(func (export \"wizer-initialize\") (global.set $g (i32.const 5))))");
    List<String> first = new ArrayList<>();
    List<String> second = new ArrayList<>();
    byte[] a = wizer(EndiveRuntime.Engine.AUTO, first).run(wasm);
    byte[] b = wizer(EndiveRuntime.Engine.AUTO, second).run(wasm);
    assertArrayEquals(a, b);
    assertTrue(
        first.stream().anyMatch(n -> n.contains("engine: compiler (auto: code of at most")),
        first.toString());
    assertTrue(
        second.stream().anyMatch(n -> n.contains("compiled in this JVM before")),
        second.toString());
    assertTrue(
        second.stream().anyMatch(n -> n.contains("reused from this JVM")), second.toString());
  }

  /** A new JVM (here: the in-memory cache forgotten) reads the classes the last one compiled. */
  @Test
  void aLaterRunReadsTheCompiledClassesFromDisk() {
    // A module no earlier test run compiled: its constant is new each time.
    long unique = System.nanoTime();
    byte[] wasm =
        Harness.wat(
            "(module (global $g (mut i64) (i64.const 0))"
                + "(func (export \"wizer-initialize\") (global.set $g (i64.const "
                + unique
                + "))))");
    CompiledModuleCache.clearLoaded();
    List<String> first = new ArrayList<>();
    byte[] a = wizer(EndiveRuntime.Engine.AUTO, first).run(wasm);
    CompiledModuleCache.clearLoaded();
    List<String> second = new ArrayList<>();
    byte[] b = wizer(EndiveRuntime.Engine.AUTO, second).run(wasm);
    assertArrayEquals(a, b);
    assertTrue(first.stream().anyMatch(n -> n.startsWith("compile cache: miss")), first.toString());
    assertTrue(
        second.stream().anyMatch(n -> n.startsWith("compile cache: hit")), second.toString());
  }

  @Test
  void diskEntriesRoundTripAndDamagedOnesAreDropped() throws IOException {
    Path dir = tmp.resolve("cache");
    List<String> notes = new ArrayList<>();
    Cache disk = disk(new CompiledModuleCache(dir, 1 << 20), notes::add);
    assertNull(disk.get("sha-256:abc"));
    byte[] data = "some compiled classes".getBytes();
    disk.putIfAbsent("sha-256:abc", data);
    assertArrayEquals(data, disk.get("sha-256:abc"));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));

    Path entry =
        dir.resolve(CompiledModuleCache.fileName(CompiledModuleCache.ENGINE + "/sha-256:abc"));
    byte[] bytes = Files.readAllBytes(entry);
    bytes[bytes.length - 1] ^= 1;
    Files.write(entry, bytes);
    assertNull(disk.get("sha-256:abc"), "a damaged entry is never returned");
    assertFalse(Files.exists(entry), "and it is deleted");
  }

  @Test
  void diskCacheStaysWithinItsBound() throws IOException {
    Path dir = tmp.resolve("cache");
    Cache disk = disk(new CompiledModuleCache(dir, 10_000), n -> {});
    for (int i = 0; i < 10; i++) {
      disk.putIfAbsent("sha-256:" + i, new byte[3_000]);
    }
    long total = 0;
    try (var s = Files.list(dir)) {
      for (Path p : s.toList()) {
        total += Files.size(p);
      }
    }
    assertTrue(total <= 10_000, "cache holds " + total + " bytes");
    assertNotNull(disk.get("sha-256:9"), "the newest entry stays");
  }

  @Test
  void concurrentWritersOfOneEntryLeaveOneWholeEntry() throws Exception {
    Path dir = tmp.resolve("cache");
    byte[] data = new byte[200_000];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i * 31);
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<byte[]>> results = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        results.add(
            pool.submit(
                () -> {
                  Cache c = disk(new CompiledModuleCache(dir, 1 << 30), n -> {});
                  c.putIfAbsent("sha-256:same", data);
                  return c.get("sha-256:same");
                }));
      }
      for (Future<byte[]> f : results) {
        assertArrayEquals(data, f.get());
      }
    } finally {
      pool.shutdownNow();
    }
    try (var s = Files.list(dir)) {
      assertEquals(1, s.count(), "one entry, no temporary files left");
    }
  }

  @Test
  void aDirectoryOthersCanWriteIsRefused() throws IOException {
    Path dir = tmp.resolve("shared");
    Files.createDirectory(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    IOException e =
        assertThrows(IOException.class, () -> CompiledModuleCache.ensurePrivateDir(dir));
    assertTrue(e.getMessage().contains("not private"), e.getMessage());
    List<String> notes = new ArrayList<>();
    disk(new CompiledModuleCache(dir, 1 << 20), notes::add).putIfAbsent("sha-256:x", new byte[1]);
    assertTrue(notes.get(0).contains("not written"), notes.toString());
    try (var s = Files.list(dir)) {
      assertEquals(0, s.count());
    }
  }

  @Test
  void customSectionsAreLeftOutOfTheCompilersCopyOnly() {
    WasmModule m = Parser.parse(Harness.wat("(module (func $f (export \"f\")))", "--debug-names"));
    WasmModule bare = Engines.withoutCustomSections(m);
    assertTrue(bare.customSections().isEmpty());
    assertFalse(m.customSections().isEmpty());
    assertEquals(m.codeSection(), bare.codeSection());
    assertEquals(m.exportSection(), bare.exportSection());
  }
}
