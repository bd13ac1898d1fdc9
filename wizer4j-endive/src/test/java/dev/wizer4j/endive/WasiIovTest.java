package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.call;
import static dev.wizer4j.endive.Harness.instantiate;
import static dev.wizer4j.endive.Harness.wat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * iovec lengths from the guest: negative as an int (Endive's fix answers EINVAL), or longer than
 * the guest's whole memory (Endive 1.0.0 allocated a 2 GiB buffer for {@code fd_read} before
 * looking at memory). Each is answered like wasmtime (Rust Wizer 11.0.3): ENOMEM, 48.
 */
class WasiIovTest {
  /** One call of {@code func} on descriptor {@code fd} with one iovec {@code (base, len)}. */
  private static byte[] guest(String func, int fd, String base, String len) {
    return wat(
        """
        (module
          (import "wasi_snapshot_preview1" "%1$s"
            (func $f (param i32 i32 i32 i32) (result i32)))
          (memory 1)
          (global $r (mut i32) (i32.const -1))
          (func (export "wizer-initialize")
            (i32.store (i32.const 0) (i32.const %3$s))
            (i32.store (i32.const 4) (i32.const %4$s))
            (global.set $r (call $f (i32.const %2$d) (i32.const 0) (i32.const 1) (i32.const 8)))
            (i64.store (i32.const 0) (i64.const 0))
            (i32.store (i32.const 8) (i32.const 0)))
          (func (export "r") (result i32) (global.get $r)))
        """
            .formatted(func, fd, base, len));
  }

  private static byte[] run(byte[] wasm) {
    InputStream stdin = System.in;
    System.setIn(new ByteArrayInputStream(new byte[0]));
    try {
      EndiveRuntime rt =
          EndiveRuntime.builder().allowWasi(true).stdout(new ByteArrayOutputStream()).build();
      return Wizer.builder().runtime(rt).build().run(wasm);
    } finally {
      System.setIn(stdin);
    }
  }

  @ParameterizedTest(name = "{0}({1}, base {2}, len {3}) = {4}")
  @CsvSource({
    "fd_read, 0, 16, 0x7fffffff, 48",
    "fd_read, 0, 16, 0x80000000, 48",
    "fd_read, 0, 16, 0xffffffff, 48",
    "fd_write, 1, 16, 0x80000000, 48",
    "fd_write, 1, 16, 0x7fffffff, 48",
    // in bounds of the memory's size but running past its end: nothing is read from an empty
    // stdin, so nothing is written out of bounds (wasmtime: 0 too)
    "fd_read, 0, 65534, 4, 0",
    "fd_write, 1, 16, 4, 0",
  })
  void lengthsAreCheckedAgainstTheMemory(String func, int fd, String base, String len, int want) {
    assertEquals(want, (int) call(instantiate(run(guest(func, fd, base, len))), "r")[0]);
  }

  @ParameterizedTest
  @CsvSource({"fd_write, 1, 65534, 4"})
  void writingFromPastTheEndTraps(String func, int fd, String base, String len) {
    WizerException e = assertThrows(WizerException.class, () -> run(guest(func, fd, base, len)));
    assertTrue(e.getMessage().startsWith("the `wizer-initialize` function trapped"), e::getMessage);
    assertFalse(e.getMessage().contains("\n"), e::getMessage);
  }
}
