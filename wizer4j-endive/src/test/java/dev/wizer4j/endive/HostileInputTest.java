package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.assertRejected;
import static dev.wizer4j.endive.Harness.wat;
import static dev.wizer4j.testing.Binary.cat;
import static dev.wizer4j.testing.Binary.leb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.testing.Binary;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import run.endive.runtime.Instance;

/** Inputs built to break a promise: linear time, one-line messages, no internal texts. */
class HostileInputTest {

  /**
   * 100,000 exported mutable globals, the init setting each. Reading the state once scanned every
   * export per global (100,000 x 100,001 comparisons, about two minutes); every lookup is now by
   * index or hash. The timeout only catches a return of quadratic time, with a wide margin (the run
   * takes a few seconds); the speed itself is measured by the benchmarks.
   */
  @Test
  void oneHundredThousandExportedGlobalsTakeLinearTime() {
    int n = 200_000;
    byte[] wasm = manyExportedGlobals(n);
    byte[] out =
        assertTimeoutPreemptively(
            Duration.ofSeconds(30), () -> Wizer.builder().build().run(wasm), "quadratic time");
    Instance after = Harness.instantiate(out);
    assertEquals(n, after.globalCount());
    for (int g : new int[] {0, 1, n / 2, n - 1}) {
      assertEquals(g + 1L, after.global(g).getValueLow(), "global " + g);
    }
  }

  /** {@code n} mutable i32 globals exported as g0..g(n-1); the init sets global i to i + 1. */
  static byte[] manyExportedGlobals(int n) {
    ByteArrayOutputStream globals = new ByteArrayOutputStream();
    ByteArrayOutputStream exports = new ByteArrayOutputStream();
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    for (int i = 0; i < n; i++) {
      globals.writeBytes(cat(0x7f, 1, 0x41, 0, 0x0b)); // (mut i32) (i32.const 0)
      exports.writeBytes(cat("g" + i, 3, leb(i)));
      // global.set i (i32.const i + 1): i32.const takes a signed LEB; i + 1 < 2^20 is positive
      // in 3 bytes.
      body.writeBytes(cat(0x41, sleb(i + 1), 0x24, leb(i)));
    }
    exports.writeBytes(cat("wizer-initialize", 0, 0));
    body.write(0x0b);
    byte[] code = cat(0, body.toByteArray()); // no locals
    return new Binary()
        .section(1, cat(1, 0x60, 0, 0))
        .section(3, cat(1, 0))
        .section(6, cat(leb(n), globals.toByteArray()))
        .section(7, cat(leb(n + 1), exports.toByteArray()))
        .section(10, cat(1, leb(code.length), code))
        .build();
  }

  private static byte[] sleb(long v) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (true) {
      int x = (int) (v & 0x7f);
      v >>= 7;
      boolean done = (v == 0 && (x & 0x40) == 0) || (v == -1 && (x & 0x40) != 0);
      b.write(done ? x : x | 0x80);
      if (done) {
        return b.toByteArray();
      }
    }
  }

  /** A module without a start function that fails to instantiate says neither. */
  @Test
  void instantiationFailureWithoutAStartFunctionSaysSo() {
    WizerException e =
        assertRejected(
            "instantiating the module failed: out of bounds memory access",
            "(module (memory 1) (data (i32.const 70000) \"x\")"
                + " (func (export \"wizer-initialize\")))");
    assertFalse(e.getMessage().contains("start function"), e.getMessage());
    assertFalse(e.getMessage().contains("trapped"), e.getMessage());
  }

  @Test
  void aTrappingStartFunctionIsNamed() {
    assertRejected(
        "instantiating the module (its segments, then its start function) failed: ",
        "(module (func $s unreachable) (start $s) (func (export \"wizer-initialize\")))");
  }

  /** Import names can carry newlines and terminal escapes; the message shows them escaped. */
  @Test
  void importNamesInTrapMessagesAreEscaped() {
    WizerException e =
        assertRejected(
            "called the import `env.x\\nerror: forged \\u{1b}[2J`, which is not available",
            "(module (import \"env\" \"x\\0aerror: forged \\1b[2J\" (func $f))"
                + " (func (export \"wizer-initialize\") (call $f)))");
    assertFalse(e.getMessage().contains("\n"));
    assertFalse(e.getMessage().contains("\u001b"));
  }

  @Test
  void typesInMessagesAreWrittenAsTheTextFormatDoes() {
    WizerException e =
        assertRejected(
            "`wizer-initialize` function export does not have type `[] -> []` but `[i32] -> []`",
            "(module (func (export \"wizer-initialize\") (param i32)))");
    assertFalse(e.getMessage().contains("FunctionType"), e.getMessage());
  }

  /**
   * An import naming a type the module does not have: Endive's validator let it through, and the
   * runtime then failed with its own exception class in the message.
   */
  @Test
  void importOfAnUnknownTypeIsAValidationError() {
    byte[] wasm =
        new Binary()
            .section(1, cat(1, 0x60, 0, 0))
            .section(2, cat(1, "env", "f", 0, 7))
            .section(3, cat(1, 0))
            .section(7, cat(1, "wizer-initialize", 0, 1))
            .section(10, cat(1, 2, 0, 0x0b))
            .build();
    WizerException.InvalidModule e =
        assertThrows(WizerException.InvalidModule.class, () -> Wizer.builder().build().run(wasm));
    assertTrue(e.getMessage().contains("uses type 7, but the module has 1 types"), e.getMessage());
  }

  /** Preloads are parsed by the runtime, after the same bounded walk as the input. */
  @Test
  void preloadAllocationBombIsRefused() {
    byte[] bomb = new Binary().section(1, cat(1, 0x60, leb(1L << 30), 0x7f)).build();
    byte[] main =
        wat(
            "(module (import \"lib\" \"f\" (func $f)) (memory 1)"
                + " (func (export \"wizer-initialize\")))");
    WizerException e = assertThrows(WizerException.class, () -> withPreload("lib", bomb).run(main));
    assertTrue(
        e.getMessage()
            .contains(
                "preload module `lib` is invalid: parameter count of 1073741824 does not fit"),
        e.getMessage());
  }

  private static Wizer withPreload(String name, byte[] wasm) {
    return Wizer.builder().runtime(EndiveRuntime.builder().preload(name, wasm).build()).build();
  }
}
