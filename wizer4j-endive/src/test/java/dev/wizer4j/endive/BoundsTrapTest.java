package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.wat;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Inits whose memory and table accesses are out of range only because an address plus an offset or
 * length passes 2^31 or 2^32: computed in 32-bit ints, each sum wraps to a small in-range value
 * (the int-overflow bounds bug fixed in Endive; also table bounds). Each must trap, on both
 * engines, and be reported as one line naming the init function.
 */
class BoundsTrapTest {
  private static final byte[] MODULE =
      wat(
          """
          (module
            (type $v (func))
            (memory 1)
            (table 1 funcref)
            (elem (i32.const 0) func $nop)
            (data $seg "abcd")
            (func $nop)
            ;; effective address 2^32: wraps to 0
            (func (export "load-offset-2^31")
              (drop (i32.load offset=0x80000000 (i32.const 0x80000000))))
            (func (export "load-offset-2^32-1")
              (drop (i32.load offset=0xffffffff (i32.const 1))))
            ;; effective address 2^32 - 2: negative as an int
            (func (export "store-offset-2^31-1")
              (i64.store offset=0x7fffffff (i32.const 0x7fffffff) (i64.const -1)))
            (func (export "load-address-2^32-1")
              (drop (i32.load8_u (i32.const 0xffffffff))))
            (func (export "store-last-bytes")
              (i32.store (i32.const 65533) (i32.const -1)))
            ;; destination + length = 2^32: wraps to 0
            (func (export "fill-length-2^32-1")
              (memory.fill (i32.const 1) (i32.const 7) (i32.const 0xffffffff)))
            (func (export "copy-source-wraps")
              (memory.copy (i32.const 0) (i32.const 0x10) (i32.const 0xfffffff0)))
            (func (export "copy-destination-wraps")
              (memory.copy (i32.const 0xfffffff0) (i32.const 0) (i32.const 0x10)))
            (func (export "init-destination-wraps")
              (memory.init $seg (i32.const 0xfffffffc) (i32.const 0) (i32.const 4)))
            (func (export "init-source-wraps")
              (memory.init $seg (i32.const 0) (i32.const 0xfffffffc) (i32.const 8)))
            (func (export "call-indirect-2^32-1")
              (call_indirect (type $v) (i32.const 0xffffffff)))
            (func (export "call-indirect-2^31")
              (call_indirect (type $v) (i32.const 0x80000000)))
            (func (export "table-get-2^32-1")
              (drop (table.get 0 (i32.const 0xffffffff))))
            (func (export "call-indirect-past-end")
              (call_indirect (type $v) (i32.const 1))))
          """);

  @ParameterizedTest(name = "{0} on {1}")
  @CsvSource({
    "load-offset-2^31, INTERPRETER",
    "load-offset-2^31, COMPILER",
    "load-offset-2^32-1, INTERPRETER",
    "load-offset-2^32-1, COMPILER",
    "store-offset-2^31-1, INTERPRETER",
    "store-offset-2^31-1, COMPILER",
    "load-address-2^32-1, INTERPRETER",
    "load-address-2^32-1, COMPILER",
    "store-last-bytes, INTERPRETER",
    "store-last-bytes, COMPILER",
    "fill-length-2^32-1, INTERPRETER",
    "fill-length-2^32-1, COMPILER",
    "copy-source-wraps, INTERPRETER",
    "copy-source-wraps, COMPILER",
    "copy-destination-wraps, INTERPRETER",
    "copy-destination-wraps, COMPILER",
    "init-destination-wraps, INTERPRETER",
    "init-destination-wraps, COMPILER",
    "init-source-wraps, INTERPRETER",
    "init-source-wraps, COMPILER",
    "call-indirect-2^32-1, INTERPRETER",
    "call-indirect-2^32-1, COMPILER",
    "call-indirect-2^31, INTERPRETER",
    "call-indirect-2^31, COMPILER",
    "table-get-2^32-1, INTERPRETER",
    "table-get-2^32-1, COMPILER",
    "call-indirect-past-end, INTERPRETER",
    "call-indirect-past-end, COMPILER",
  })
  void outOfRangeAccessTraps(String init, EndiveRuntime.Engine engine) {
    Wizer wizer =
        Wizer.builder()
            .initFunc(init)
            .runtime(EndiveRuntime.builder().engine(engine).build())
            .build();
    WizerException e = assertThrows(WizerException.class, () -> wizer.run(MODULE));
    String msg = e.getMessage();
    assertTrue(msg.startsWith("the `" + init + "` function trapped: "), msg);
    assertFalse(msg.contains("\n"), msg);
  }
}
