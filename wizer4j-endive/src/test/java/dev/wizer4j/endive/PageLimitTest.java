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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code memory.grow} past Endive's 32,767 pages, where Wizer would grow the memory, fails the run
 * naming the limit; grows Wizer would refuse too still return -1 to the guest.
 */
class PageLimitTest {
  /** Grows memory 0 by {@code delta} pages in init and keeps the result in a global. */
  private static byte[] grower(String limits, long delta) {
    return wat(
        """
        (module
          (memory %s)
          (global $r (mut i32) (i32.const -2))
          (func (export "wizer-initialize")
            (global.set $r (memory.grow (i32.const %d))))
          (func (export "r") (result i32) (global.get $r)))
        """
            .formatted(limits, delta));
  }

  private static Wizer wizer(EndiveRuntime.Engine engine) {
    return Wizer.builder().runtime(EndiveRuntime.builder().engine(engine).build()).build();
  }

  @ParameterizedTest
  @EnumSource(
      value = EndiveRuntime.Engine.class,
      names = {"INTERPRETER", "COMPILER"})
  void growPastTheRuntimeLimitFailsNamingIt(EndiveRuntime.Engine engine) {
    for (String limits : new String[] {"1", "1 40000", "1 65536"}) {
      WizerException e =
          assertThrows(WizerException.class, () -> wizer(engine).run(grower(limits, 32767)));
      String msg = e.getMessage();
      assertTrue(
          msg.contains("memory 0 grows to 32768 pages")
              && msg.contains("32767 pages (2 GiB) the Endive runtime can hold"),
          msg);
      assertTrue(msg.startsWith("the `wizer-initialize` function failed: "), msg);
      assertFalse(msg.contains("\n"), msg);
    }
  }

  @ParameterizedTest
  @EnumSource(
      value = EndiveRuntime.Engine.class,
      names = {"INTERPRETER", "COMPILER"})
  void growsWasmtimeRefusesStillReturnMinusOne(EndiveRuntime.Engine engine) {
    // past the module's own maximum, below the runtime's limit
    assertEquals(-1, (int) call(instantiate(wizer(engine).run(grower("1 100", 200))), "r")[0]);
    // past 4 GiB (the delta is unsigned)
    assertEquals(-1, (int) call(instantiate(wizer(engine).run(grower("1", -1))), "r")[0]);
    // past the module's maximum of 40,000 pages and past the runtime's limit
    assertEquals(
        -1, (int) call(instantiate(wizer(engine).run(grower("1 40000", 39999 + 2))), "r")[0]);
    // within every limit
    byte[] out = wizer(engine).run(grower("1", 2));
    assertEquals(1, (int) call(instantiate(out), "r")[0]);
  }
}
