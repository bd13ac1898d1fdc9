package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.assertRejected;
import static dev.wizer4j.endive.Harness.assertValid;
import static dev.wizer4j.endive.Harness.call;
import static dev.wizer4j.endive.Harness.instantiate;
import static dev.wizer4j.endive.Harness.wat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Imports during initialization: preloaded modules and real WASI. */
class LinkingTest {

  @Test
  void preloadedModulesProvideImportsAndAreNotSnapshotted() {
    byte[] math =
        wat(
            """
            (module
              (global $calls (mut i32) (i32.const 0))
              (func (export "triple") (param i32) (result i32)
                (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
                (i32.mul (local.get 0) (i32.const 3))))
            """);
    byte[] main =
        wat(
            """
            (module
              (import "math" "triple" (func $triple (param i32) (result i32)))
              (global $g (mut i32) (i32.const 0))
              (func (export "wizer-initialize") (global.set $g (call $triple (i32.const 14))))
              (func (export "g") (result i32) (global.get $g)))
            """);
    byte[] out =
        Wizer.builder()
            .runtime(EndiveRuntime.builder().preload("math", math).build())
            .build()
            .run(main);
    assertValid(out);
    assertEquals(42, call(instantiate(out), "g")[0]);
    assertRejected(
        "`math.triple`", Wizer.builder().build(), main); // without the preload the import traps
  }

  private static final String ENV_COUNT =
      """
      (module
        (import "wasi_snapshot_preview1" "environ_sizes_get"
          (func $sizes (param i32 i32) (result i32)))
        (memory 1)
        (global $count (mut i32) (i32.const -1))
        (func (export "wizer-initialize")
          (drop (call $sizes (i32.const 0) (i32.const 4)))
          (global.set $count (i32.load (i32.const 0)))
          (i32.store (i32.const 0) (i32.const 0))
          (i32.store (i32.const 4) (i32.const 0)))
        (func (export "count") (result i32) (global.get $count)))
      """;

  @Test
  void wasiSeesNoEnvironmentUnlessInherited() {
    byte[] wasm = wat(ENV_COUNT);
    byte[] plain =
        Wizer.builder().runtime(EndiveRuntime.builder().allowWasi(true).build()).build().run(wasm);
    assertEquals(0, call(instantiate(plain), "count")[0]);
    byte[] inherited =
        Wizer.builder()
            .runtime(EndiveRuntime.builder().allowWasi(true).inheritEnv(true).build())
            .build()
            .run(wasm);
    assertEquals(System.getenv().size(), call(instantiate(inherited), "count")[0]);
  }

  @Test
  void wasiIsNotLinkedUnlessAllowed() {
    assertRejected(
        "`wasi_snapshot_preview1.environ_sizes_get`, which is not available (WASI is not allowed"
            + " during initialization; pass --allow-wasi)",
        ENV_COUNT);
  }

  @Test
  void mappedDirectoriesAreReadable(@TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("input.txt"), "hello from the host");
    // path_open(fd 3 = the first preopen, "input.txt") then fd_read 19 bytes to address 100.
    byte[] wasm =
        wat(
            """
            (module
              (import "wasi_snapshot_preview1" "path_open"
                (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
              (import "wasi_snapshot_preview1" "fd_read"
                (func $read (param i32 i32 i32 i32) (result i32)))
              (memory (export "memory") 1)
              (data (i32.const 16) "input.txt")
              (global $err (mut i32) (i32.const -1))
              (func (export "wizer-initialize")
                (global.set $err
                  (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 9)
                              (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)
                              (i32.const 32)))
                ;; iovec at 40: {buf=100, len=64}; nread at 48
                (i32.store (i32.const 40) (i32.const 100))
                (i32.store (i32.const 44) (i32.const 64))
                (drop (call $read (i32.load (i32.const 32)) (i32.const 40) (i32.const 1)
                                  (i32.const 48))))
              (func (export "err") (result i32) (global.get $err))
              (func (export "nread") (result i32) (i32.load (i32.const 48))))
            """);
    byte[] out =
        Wizer.builder()
            .runtime(EndiveRuntime.builder().allowWasi(true).mapDir("/data", dir).build())
            .build()
            .run(wasm);
    var i = instantiate(out);
    assertEquals(0, call(i, "err")[0], "path_open succeeded");
    assertEquals(19, call(i, "nread")[0]);
    String text =
        new String(i.memory(0).readBytes(100, 19), java.nio.charset.StandardCharsets.UTF_8);
    assertEquals("hello from the host", text);
    assertRejected(
        "does not exist",
        Wizer.builder()
            .runtime(
                EndiveRuntime.builder()
                    .allowWasi(true)
                    .mapDir("/data", dir.resolve("missing"))
                    .build())
            .build(),
        wasm);
    assertTrue(out.length > wasm.length);
  }
}
