package dev.wizer4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.wizer4j.testing.Wat;
import org.junit.jupiter.api.Test;
import run.endive.wasm.Parser;

/** Validating bodies on several cores must accept and reject exactly what Endive does. */
class ParallelValidationTest {

  private static String module(int functions, int invalidAt) {
    StringBuilder b = new StringBuilder("(module (memory 1) (global $g (mut i32) (i32.const 0))");
    for (int i = 0; i < functions; i++) {
      if (i == invalidAt || i == invalidAt + 40) {
        b.append(" (func (result i32) (i64.const ").append(i).append("))");
      } else {
        b.append(" (func (param i32) (result i32) (i32.add (local.get 0) (i32.const ")
            .append(i)
            .append(")) (global.set $g) (global.get $g))");
      }
    }
    return b.append(")").toString();
  }

  /** The parallel path runs only with several cores; on one core these tests are skipped. */
  private static void assumeSeveralCores() {
    assumeTrue(
        Runtime.getRuntime().availableProcessors() > 1,
        "parallel validation needs more than one core");
  }

  @Test
  void acceptsWhatEndiveAccepts() {
    assumeSeveralCores();
    byte[] wasm = Wat.compile(module(300, -100));
    var parallel = ParallelValidation.parse(wasm, Integer.MAX_VALUE, 0);
    assertNotNull(parallel, "the parallel path is available");
    assertEquals(
        Parser.parse(wasm).codeSection().functionBodyCount(),
        parallel.codeSection().functionBodyCount());
  }

  @Test
  void reportsTheFirstInvalidBodyAsEndiveDoes() {
    assumeSeveralCores();
    byte[] wasm = Wat.compile(module(300, 170), "--no-check");
    RuntimeException sequential = assertThrows(RuntimeException.class, () -> Parser.parse(wasm));
    RuntimeException parallel =
        assertThrows(
            RuntimeException.class, () -> ParallelValidation.parse(wasm, Integer.MAX_VALUE, 0));
    assertEquals(sequential.getClass(), parallel.getClass());
    assertEquals(sequential.getMessage(), parallel.getMessage());
  }

  @Test
  void oneCoreOrSmallCodeFallsBackToTheSequentialValidator() {
    byte[] wasm = Wat.compile(module(3, -100));
    assertEquals(null, ParallelValidation.parse(wasm, 10, 1 << 20), "below the code threshold");
  }
}
