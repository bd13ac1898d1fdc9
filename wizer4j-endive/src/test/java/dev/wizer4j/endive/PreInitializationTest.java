package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.assertRejected;
import static dev.wizer4j.endive.Harness.assertWizened;
import static dev.wizer4j.endive.Harness.call;
import static dev.wizer4j.endive.Harness.exports;
import static dev.wizer4j.endive.Harness.instantiate;
import static dev.wizer4j.endive.Harness.wat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;
import run.endive.wasm.types.ActiveDataSegment;
import run.endive.wasm.types.PassiveDataSegment;

/**
 * One test per rule of pre-initialization (the README's "What pre-initialization does"), each
 * differential against a plain run.
 */
class PreInitializationTest {

  @Test
  void globalsKeepTheirExactBits() {
    byte[] out =
        assertWizened(
            """
            (module
              (global $i32 (mut i32) (i32.const 0))
              (global $i64 (mut i64) (i64.const 0))
              (global $nan32 (mut f32) (f32.const 0))
              (global $nan64 (mut f64) (f64.const 0))
              (global $negzero (mut f64) (f64.const 1))
              (global $v (mut v128) (v128.const i64x2 0x0123456789abcdef 0x7edcba9876543210))
              (global $const i32 (i32.const 77))
              (func (export "wizer-initialize")
                (global.set $i32 (i32.const -123456789))
                (global.set $i64 (i64.const 0x8000000000000001))
                (global.set $nan32 (f32.reinterpret_i32 (i32.const 0x7fa00001)))
                (global.set $nan64 (f64.reinterpret_i64 (i64.const 0xfff0000000000abc)))
                (global.set $negzero (f64.const -0.0)))
              (func (export "nan32") (result i32) (i32.reinterpret_f32 (global.get $nan32)))
              (func (export "nan64") (result i64) (i64.reinterpret_f64 (global.get $nan64)))
              (func (export "negzero") (result i64) (i64.reinterpret_f64 (global.get $negzero)))
              (func (export "i64") (result i64) (global.get $i64)))
            """,
            "nan32",
            "nan64",
            "negzero",
            "i64");
    Instance i = instantiate(out);
    assertEquals(0x7fa00001L, call(i, "nan32")[0] & 0xffffffffL);
    assertEquals(0xfff0000000000abcL, call(i, "nan64")[0]);
    assertEquals(Double.doubleToRawLongBits(-0.0), call(i, "negzero")[0]);
    assertEquals(0x0123456789abcdefL, i.global(5).getValueLow());
    assertEquals(0x7edcba9876543210L, i.global(5).getValueHigh());
    assertEquals(77, i.global(6).getValue());
  }

  @Test
  void startFunctionRunsOnceAndIsDropped() {
    byte[] out =
        assertWizened(
            """
            (module
              (memory 1)
              (global $starts (mut i32) (i32.const 0))
              (func $start (global.set $starts (i32.add (global.get $starts) (i32.const 1)))
                (i32.store (i32.const 16) (i32.const 0xdead)))
              (start $start)
              (func (export "wizer-initialize")
                (i32.store (i32.const 20) (i32.load (i32.const 16))))
              (func (export "starts") (result i32) (global.get $starts)))
            """,
            "starts");
    assertTrue(Parser.parse(out).startSection().isEmpty(), "the start section is dropped");
    assertEquals(1, call(instantiate(out), "starts")[0]);
  }

  @Test
  void initializeRunsBeforeTheInitFunction() {
    String text =
        """
        (module
          (global $log (mut i32) (i32.const 0))
          (func (export "_initialize")
            (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 1))))
          (func (export "wizer-initialize")
            (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 2))))
          (func (export "log") (result i32) (global.get $log)))
        """;
    byte[] out = assertWizened(text, "log");
    assertEquals(12, call(instantiate(out), "log")[0], "_initialize, then the init function");
    assertEquals(List.of("log"), exports(out), "both init exports are removed");
  }

  @Test
  void initializeAsTheInitFunctionRunsOnce() {
    Wizer wizer = Wizer.builder().initFunc("_initialize").build();
    byte[] out =
        assertWizened(
            wizer,
            wat(
                """
                (module
                  (global $n (mut i32) (i32.const 0))
                  (func (export "_initialize") (global.set $n (i32.add (global.get $n) (i32.const 1))))
                  (func (export "n") (result i32) (global.get $n)))
                """),
            "n");
    assertEquals(1, call(instantiate(out), "n")[0]);
  }

  @Test
  void keepInitFuncKeepsTheExportButNotInitialize() {
    Wizer wizer = Wizer.builder().keepInitFunc(true).build();
    byte[] out =
        assertWizened(
            wizer,
            wat(
                """
                (module
                  (global $n (mut i32) (i32.const 0))
                  (func (export "_initialize"))
                  (func (export "wizer-initialize") (global.set $n (i32.add (global.get $n) (i32.const 1))))
                  (func (export "n") (result i32) (global.get $n)))
                """),
            "n");
    assertEquals(List.of("wizer-initialize", "n"), exports(out));
  }

  @Test
  void renamesApplyInChainsAndOverwrite() {
    Wizer wizer =
        Wizer.builder().renameFunc("_start", "main2").renameFunc("main2", "main3").build();
    byte[] out =
        assertWizened(
            wizer,
            wat(
                """
                (module
                  (func (export "wizer-initialize"))
                  (func (export "_start") (result i32) (i32.const 1))
                  (func (export "main2") (result i32) (i32.const 2))
                  (func (export "main3") (result i32) (i32.const 3)))
                """));
    assertEquals(List.of("_start", "main2"), exports(out));
    Instance i = instantiate(out);
    assertEquals(2, call(i, "_start")[0]);
    assertEquals(3, call(i, "main2")[0]);
  }

  @Test
  void duplicateRenamesAreErrors() {
    var dst =
        assertThrows(
            IllegalArgumentException.class,
            () -> Wizer.builder().renameFunc("a", "b").renameFunc("a", "c"));
    assertTrue(dst.getMessage().contains("duplicated function rename dst `a`"));
    var src =
        assertThrows(
            IllegalArgumentException.class,
            () -> Wizer.builder().renameFunc("a", "b").renameFunc("c", "b"));
    assertTrue(src.getMessage().contains("duplicated function rename src `b`"));
  }

  @Test
  void memoryGrowthBecomesTheNewMinimumAndTheLastByteSurvives() {
    byte[] out =
        assertWizened(
            """
            (module
              (memory (export "memory") 1 10)
              (func (export "wizer-initialize")
                (drop (memory.grow (i32.const 2)))
                (i32.store8 (i32.const 196607) (i32.const 0x5a))
                (i32.store8 (i32.const 0) (i32.const 1)))
              (func (export "last") (result i32) (i32.load8_u (i32.const 196607)))
              (func (export "size") (result i32) (memory.size)))
            """,
            "last",
            "size");
    var mem = Parser.parse(out).memorySection().orElseThrow().getMemory(0).limits();
    assertEquals(3, mem.initialPages());
    assertEquals(10, mem.maximumPages(), "the maximum is kept");
  }

  @Test
  void moreThanTenThousandRegionsAreCappedWithoutLosingBytes() {
    byte[] out =
        assertWizened(
            """
            (module
              (memory 8)
              (func (export "wizer-initialize")
                (local $a i32)
                (loop $l
                  (i32.store8 (local.get $a) (i32.const 7))
                  (local.set $a (i32.add (local.get $a) (i32.const 20)))
                  (br_if $l (i32.lt_u (local.get $a) (i32.const 500000))))))
            """);
    int segments = Parser.parse(out).dataSection().dataSegmentCount();
    assertEquals(10_000, segments, "25,000 regions are merged down to the cap");
  }

  @Test
  void passiveSegmentsAndMemoryInitStillWorkAfterTheSnapshot() {
    byte[] out =
        assertWizened(
            """
            (module
              (memory 1)
              (data (i32.const 100) "active!")
              (data $p "passive")
              (data (i32.const 200) "second")
              (func (export "wizer-initialize")
                (memory.init $p (i32.const 300) (i32.const 0) (i32.const 3)))
              (func (export "later") (result i32)
                (memory.init $p (i32.const 400) (i32.const 0) (i32.const 7))
                (i32.load (i32.const 400)))
              (func (export "empty") (result i32)
                (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 0))
                (i32.const 1)))
            """,
            "later",
            "empty");
    var data = Parser.parse(out).dataSection();
    assertTrue(data.getDataSegment(0) instanceof PassiveDataSegment);
    assertEquals(0, ((PassiveDataSegment) data.getDataSegment(0)).data().length);
    assertEquals("passive", new String(((PassiveDataSegment) data.getDataSegment(1)).data()));
    assertEquals(0, ((PassiveDataSegment) data.getDataSegment(2)).data().length);
    assertTrue(data.getDataSegment(3) instanceof ActiveDataSegment);
    assertEquals(
        data.dataSegmentCount(),
        Parser.parse(out).dataCountSection().orElseThrow().dataCount(),
        "the data count matches the new number of segments");
  }

  @Test
  void multipleMemoriesAreEachSnapshotted() {
    assertWizened(
        """
        (module
          (memory $a 1)
          (memory $b 2)
          (func (export "wizer-initialize")
            (i32.store $a (i32.const 8) (i32.const 11))
            (i32.store $b (i32.const 70000) (i32.const 22))
            (drop (memory.grow $b (i32.const 1))))
          (func (export "b") (result i32) (i32.load $b (i32.const 70000))))
        """,
        "b");
  }

  @Test
  void theDataSectionGoesBeforeTheNameSection() {
    byte[] out =
        assertWizened(
            Wizer.builder().build(),
            Harness.wat(
                """
            (module $named
              (memory 1)
              (func $init (export "wizer-initialize") (i32.store (i32.const 4) (i32.const 9))))
            """,
                "--debug-names"));
    int data = -1;
    int name = -1;
    int pos = 8;
    while (pos < out.length) {
      int id = out[pos];
      int p = pos + 1;
      long size = 0;
      int shift = 0;
      int b;
      do {
        b = out[p++] & 0xff;
        size |= (long) (b & 0x7f) << shift;
        shift += 7;
      } while ((b & 0x80) != 0);
      if (id == 11) {
        data = pos;
      }
      if (id == 0 && out[p] == 4 && new String(out, p + 1, 4).equals("name")) {
        name = pos;
      }
      pos = p + (int) size;
    }
    assertTrue(data > 0 && name > data, "data at " + data + ", name at " + name);
  }

  @Test
  void importsThatInitDoesNotCallAreKept() {
    byte[] out =
        assertWizened(
            """
            (module
              (import "env" "later" (func $later (result i32)))
              (global $g (mut i32) (i32.const 0))
              (func (export "wizer-initialize") (global.set $g (i32.const 5)))
              (func (export "use") (result i32) (call $later)))
            """);
    assertEquals(1, Parser.parse(out).importSection().importCount());
  }

  @Test
  void tablesWithActiveElementsWork() {
    assertWizened(
        """
        (module
          (type $t (func (result i32)))
          (table 2 funcref)
          (elem (i32.const 0) $a $b)
          (global $g (mut i32) (i32.const 0))
          (func $a (result i32) (i32.const 10))
          (func $b (result i32) (i32.const 20))
          (func (export "wizer-initialize")
            (global.set $g (call_indirect (type $t) (i32.const 1))))
          (func (export "g") (result i32) (global.get $g)))
        """,
        "g");
  }

  @Test
  void noMemoryNoDataIsFine() {
    byte[] out =
        assertWizened(
            """
            (module
              (global $g (mut i64) (i64.const 0))
              (func (export "wizer-initialize") (global.set $g (i64.const -1))))
            """);
    assertEquals(0, Parser.parse(out).dataSection().dataSegmentCount());
  }

  // ---- rejections -------------------------------------------------------------------------

  @Test
  void importedMemoryIsRejected() {
    assertRejected(
        "imported memories are not supported: memory `env.mem`",
        "(module (import \"env\" \"mem\" (memory 1)) (func (export \"wizer-initialize\")))");
  }

  @Test
  void importedTableIsRejected() {
    assertRejected(
        "imported tables are not supported: table `env.t`",
        "(module (import \"env\" \"t\" (table 1 funcref)) (func (export \"wizer-initialize\")))");
  }

  @Test
  void importedGlobalIsRejected() {
    assertRejected(
        "imported globals are not supported: global `env.g`",
        "(module (import \"env\" \"g\" (global i32)) (func (export \"wizer-initialize\")))");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "table.set|(table.set 0 (i32.const 0) (ref.null func))",
        "table.grow|(drop (table.grow 0 (ref.null func) (i32.const 1)))",
        "table.fill|(table.fill 0 (i32.const 0) (ref.null func) (i32.const 1))",
        "table.copy|(table.copy (i32.const 0) (i32.const 0) (i32.const 0))",
        "table.init|(table.init $e (i32.const 0) (i32.const 0) (i32.const 0))",
        "elem.drop|(elem.drop $e)",
        "data.drop|(data.drop $d)"
      })
  void tableAndSegmentMutationsAreRejected(String spec) {
    String name = spec.substring(0, spec.indexOf('|'));
    String code = spec.substring(spec.indexOf('|') + 1);
    assertRejected(
        "unsupported `" + name + "` instruction in function 1",
        "(module (memory 1) (table 1 funcref) (elem $e func $f) (data $d \"x\")"
            + " (func $f) (func (export \"other\") "
            + code
            + ") (func (export \"wizer-initialize\")))");
  }

  @Test
  void mutableReferenceGlobalIsRejected() {
    assertRejected(
        "unsupported mutable global containing a reference type: global 0",
        "(module (global (mut funcref) (ref.null func)) (func (export \"wizer-initialize\")))");
  }

  @Test
  void existingInstrumentationNamesAreRejected() {
    assertRejected(
        "already exports entities named with the `__wizer_*` prefix: `__wizer_global_0`",
        "(module (global (mut i32) (i32.const 0)) (export \"__wizer_global_0\" (global 0))"
            + " (func (export \"wizer-initialize\")))");
    assertRejected(
        "already imports entities named with the `__wizer_*` prefix: `__wizer_state.x`",
        "(module (import \"__wizer_state\" \"x\" (func)) (func (export \"wizer-initialize\")))");
  }

  @Test
  void initFunctionMustExistBeAFunctionAndTakeNothing() {
    assertRejected(
        "does not have a `wizer-initialize` export", "(module (func (export \"init\")))");
    assertRejected(
        "`wizer-initialize` export is not a function",
        "(module (memory (export \"wizer-initialize\") 1))");
    assertRejected(
        "does not have type `[] -> []`",
        "(module (func (export \"wizer-initialize\") (param i32)))");
    assertRejected(
        "`_initialize` function export does not have type `[] -> []`",
        "(module (func (export \"_initialize\") (result i32) (i32.const 0))"
            + " (func (export \"wizer-initialize\")))");
  }

  @Test
  void trapsAndMissingImportsNameTheirCause() {
    assertRejected(
        "the `wizer-initialize` function trapped",
        "(module (func (export \"wizer-initialize\") unreachable))");
    assertRejected(
        "`env.host`",
        "(module (import \"env\" \"host\" (func)) (func (export \"wizer-initialize\") (call 0)))");
    assertRejected(
        "start function",
        "(module (func $s unreachable) (start $s) (func (export \"wizer-initialize\")))");
  }

  @Test
  void invalidCodeIsRejectedBeforeAnythingRuns() {
    WizerException e =
        assertRejected(
            "validation failed",
            "(module (func (export \"wizer-initialize\") (i32.add (i32.const 1))))");
    assertFalse(e.getMessage().isEmpty());
  }

  @Test
  void memory64IsReportedAsUnsupported() {
    assertRejected("memory64", "(module (memory i64 1) (func (export \"wizer-initialize\")))");
  }

  @Test
  void componentsAreReportedAsSuch() {
    byte[] component = {0, 'a', 's', 'm', 0x0d, 0, 1, 0};
    assertRejected("found a component", Wizer.builder().build(), component);
  }

  private static byte[] hex(String h) {
    byte[] b = new byte[h.length() / 2];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
    }
    return b;
  }

  // Inputs that Endive's own parser lets through; each would otherwise fail late or be copied
  // into an invalid output.

  @Test
  void exportsPastTheEndOfTheirIndexSpaceAreInvalid() {
    assertRejected(
        "export `wizer-initialize` refers to function 3, but the module has 1 (at offset",
        Wizer.builder().build(),
        wat("(module (func) (export \"wizer-initialize\" (func 3)))"));
    assertRejected(
        "export `m` refers to memory 1, but the module has 0",
        "(module (func (export \"wizer-initialize\")) (export \"m\" (memory 1)))");
    assertRejected(
        "export `t` refers to tag 2, but the module has 0",
        "(module (func (export \"wizer-initialize\")) (export \"t\" (tag 2)))");
  }

  @Test
  void unknownElementSegmentFlagsAreInvalid() {
    assertRejected(
        "unknown element segment flags 64 (at offset 0x31)",
        Wizer.builder().build(),
        hex(
            "0061736d01000000010401600000030201000404017000010714011077697a65722d696e697469616c"
                + "697a6500000907014041000b01000a040102000b"));
  }

  @Test
  void aBodyWhoseLastEndClosesAnInnerBlockIsInvalid() {
    assertRejected(
        "does not end with the `end` of the function",
        Wizer.builder().build(),
        hex(
            "0061736d01000000010401600000030201000714011077697a65722d696e697469616c697a6500000a"
                + "08010600410102400b"));
  }

  @Test
  void memoriesLargerThanEndiveCanHoldAreReported() {
    assertRejected(
        "more than the 32767 pages (2 GiB) the Endive runtime can hold",
        "(module (memory 65536) (func (export \"wizer-initialize\")))");
  }
}
