package dev.wizer4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wizer4j.testing.Wat;
import org.junit.jupiter.api.Test;

/** The same bytes are parsed once per JVM; anything else is parsed, and checked, again. */
class ParseCacheTest {
  private static final String MODULE =
      "(module (memory 1) (global (mut i32) (i32.const 7))"
          + " (func (export \"wizer-initialize\")) (data (i32.const 16) \"cached\"))";

  @Test
  void theSameBytesGiveTheSameContext() {
    byte[] wasm = Wat.compile(MODULE);
    ModuleContext first = ParseCache.parse(wasm, false);
    assertSame(first, ParseCache.parse(wasm.clone(), false));
    // As instrumented input, the same bytes are checked again (and lack the instrumentation).
    assertThrows(WizerException.Unsupported.class, () -> ParseCache.parse(wasm, true));
  }

  @Test
  void theCallerMayReuseItsArray() {
    byte[] wasm = Wat.compile(MODULE);
    byte[] original = wasm.clone();
    ModuleContext cx = ParseCache.parse(wasm, false);
    wasm[wasm.length - 1] ^= 0x20; // "cacheD": another module now, of the same length
    assertArrayEquals(original, cx.bytes, "the context keeps its own copy");
    ModuleContext other = ParseCache.parse(wasm, false);
    assertNotSame(cx, other);
    assertArrayEquals(wasm, other.bytes);
  }

  @Test
  void aRejectedModuleIsRejectedEveryTime() {
    byte[] bad = Wat.compile("(module (func (result i32) (i64.const 1)))", "--no-check");
    assertThrows(WizerException.InvalidModule.class, () -> ParseCache.parse(bad, false));
    assertThrows(WizerException.InvalidModule.class, () -> ParseCache.parse(bad, false));
  }
}
