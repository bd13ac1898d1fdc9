package dev.wizer4j;

import static dev.wizer4j.testing.Binary.cat;
import static dev.wizer4j.testing.Binary.leb;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.testing.Binary;
import dev.wizer4j.testing.Wat;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Tiny modules that declare huge counts and lengths. Each must be refused with the offset of the
 * declaration, before anything is allocated for it: both through {@link Parse#parse} (the input)
 * and {@link WasmBounds#check} (what a runtime calls for preloads).
 *
 * <p>This class runs in its own JVM with a 64 MiB heap (see the {@code bombs} execution in the
 * pom), so an allocation for a declared size fails the test with an {@link OutOfMemoryError} at
 * once, instead of passing slowly on a large heap.
 */
class AllocationBombTest {
  private static final int TYPE = 1;
  private static final int FUNCTION = 3;
  private static final int ELEMENT = 9;
  private static final int CODE = 10;
  private static final int DATA = 11;

  /** The heap is small, or the test proves nothing. */
  @Test
  void runsWithASmallHeap() {
    assertTrue(
        Runtime.getRuntime().maxMemory() <= 128L << 20,
        "run with -Xmx64m (the pom's bombs execution): max heap is "
            + Runtime.getRuntime().maxMemory());
  }

  /** The 64-byte module of the report: one function type declaring 2^30 parameters. */
  @Test
  void parameterCount() {
    byte[] payload = cat(1, 0x60, leb(1L << 30));
    byte[] padding = new byte[64 - 8 - 2 - payload.length];
    Arrays.fill(padding, (byte) 0x7f); // i32 parameters, far fewer than declared
    byte[] wasm = new Binary().section(TYPE, cat(payload, padding)).build();
    assertEquals(64, wasm.length);
    assertRefused(wasm, "parameter count of 1073741824 does not fit", 0xc);
  }

  @Test
  void resultCount() {
    assertRefused(
        new Binary().section(TYPE, cat(1, 0x60, 0, leb(0x7fff_fff0L), 0x7f)).build(),
        "result count of 2147483632 does not fit",
        0xd);
  }

  /** A custom section whose name claims almost 2 GiB. */
  @Test
  void customSectionNameLength() {
    byte[] payload = cat(leb(0x7fff_fff0L), new byte[60]);
    assertRefused(
        new Binary().section(0, payload).build(),
        "custom section name length of 2147483632 does not fit",
        0xa);
  }

  @Test
  void recursionGroupAndSupertypes() {
    assertRefused(
        new Binary().section(TYPE, cat(1, 0x4e, leb(0x7fff_ffffL), 0x60, 0, 0)).build(),
        "recursion group size of 2147483647 does not fit",
        0xc);
    assertRefused(
        new Binary().section(TYPE, cat(1, 0x50, leb(0x7fff_ffffL), 0, 0x60, 0, 0)).build(),
        "supertype count of 2147483647 does not fit",
        0xc);
  }

  @Test
  void elementCount() {
    // A passive segment of function indices (flags 1, elemkind 0) claiming 2^31 - 1 entries.
    assertRefused(
        new Binary().section(ELEMENT, cat(1, 1, 0, leb(0x7fff_ffffL), 0)).build(),
        "element count of 2147483647 does not fit",
        0xd);
  }

  @Test
  void dataSegmentLength() {
    assertRefused(
        new Binary().section(DATA, cat(1, 1, leb(0x7fff_fff0L), 1, 2, 3)).build(),
        "data segment length of 2147483632 does not fit",
        0xc);
  }

  @Test
  void vectorCountsOfEverySection() {
    for (int id : new int[] {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13}) {
      byte[] wasm = new Binary().section(id, cat(leb(0xffff_ffffL), 0, 0, 0)).build();
      WizerException.InvalidModule e =
          assertThrows(WizerException.InvalidModule.class, () -> Parse.parse(wasm, false));
      assertTrue(e.getMessage().contains("count of 4294967295 does not fit"), e.getMessage());
    }
  }

  /**
   * Locals: the runtime keeps an entry per declared local. 2,000 bodies of 7 bytes declaring 50,000
   * locals each would be 100 million entries from 14 KB.
   */
  @Test
  void localsOfManyFunctions() {
    int n = 2000;
    byte[] body = cat(1, leb(50_000), 0x7f, 0x0b);
    byte[][] code = new byte[n + 1][];
    code[0] = leb(n);
    byte[][] funcs = new byte[n + 1][];
    funcs[0] = leb(n);
    for (int i = 1; i <= n; i++) {
      code[i] = cat(leb(body.length), body);
      funcs[i] = new byte[] {0};
    }
    byte[] wasm =
        new Binary()
            .section(TYPE, cat(1, 0x60, 0, 0))
            .section(FUNCTION, cat((Object[]) funcs))
            .section(CODE, cat((Object[]) code))
            .build();
    WizerException.InvalidModule e =
        assertThrows(WizerException.InvalidModule.class, () -> Parse.parse(wasm, false));
    assertTrue(e.getMessage().contains("locals, more than the"), e.getMessage());
  }

  /** One function whose local groups add up past 50,000 (each group alone is allowed). */
  @Test
  void localsOfOneFunction() {
    int groups = 1000;
    byte[][] parts = new byte[groups + 2][];
    parts[0] = leb(groups);
    for (int g = 1; g <= groups; g++) {
      parts[g] = cat(leb(50_000), 0x7f);
    }
    parts[groups + 1] = new byte[] {0x0b};
    byte[] body = cat((Object[]) parts);
    byte[] wasm =
        new Binary()
            .section(TYPE, cat(1, 0x60, 0, 0))
            .section(FUNCTION, cat(1, 0))
            .section(CODE, cat(1, leb(body.length), body))
            .build();
    assertRefused(wasm, "function 0 declares more than 50000 locals", -1);
  }

  /** Types, an import, a table, memory, globals, exports, elements, locals, code and data. */
  static final String SEED =
      """
      (module
        (type $pair (func (param i32 i64) (result i32)))
        (import "env" "f" (func $f (type $pair)))
        (table 2 funcref)
        (memory 1 2)
        (global $m (mut i32) (i32.const 7))
        (global $r funcref (ref.func $h))
        (export "h" (func $h))
        (elem (i32.const 0) $h $h)
        (elem declare func $h)
        (func $h (param i32) (result i32) (local i64 f32 f64)
          (block $b (br_table $b $b $b (local.get 0)))
          (call $f (local.get 0) (i64.const 1)))
        (data (i32.const 8) "some bytes")
        (data "passive"))
      """;

  /**
   * Generated bombs: every byte of a valid module in turn is replaced by a large number (a 4- or
   * 5-byte LEB128), with the size of the enclosing section corrected, so that whatever count,
   * length or index the byte was part of now claims millions or billions. Each must be refused or
   * accepted without anything allocating for it.
   */
  @Test
  void everyByteAsAHugeNumber() {
    byte[] seed = Wat.compile(SEED);
    Parse.parse(seed, false); // the seed itself is valid
    int refused = 0;
    int tried = 0;
    // Near 2^31: as large as stays a positive Java int. 2^24: past every per-item limit (locals,
    // pages, table elements) while small enough that a parser might not call it absurd.
    for (long huge : new long[] {0x7fff_fff0L, 1L << 24}) {
      for (Binary.Section s : Binary.sections(seed)) {
        int payload = s.end() - payloadSize(seed, s);
        for (int at = payload; at < s.end(); at++) {
          byte[] body =
              cat(
                  Arrays.copyOfRange(seed, payload, at),
                  leb(huge),
                  Arrays.copyOfRange(seed, at + 1, s.end()));
          byte[] wasm =
              cat(
                  Arrays.copyOfRange(seed, 0, s.start()),
                  s.id(),
                  leb(body.length),
                  body,
                  Arrays.copyOfRange(seed, s.end(), seed.length));
          tried++;
          try {
            WasmBounds.check(wasm);
            Parse.parse(wasm, false);
          } catch (WizerException e) {
            refused++;
          }
        }
      }
    }
    assertTrue(refused > tried / 2, "most such modules are refused: " + refused + "/" + tried);
  }

  private static int payloadSize(byte[] wasm, Binary.Section s) {
    long size = 0;
    int shift = 0;
    int pos = s.start() + 1;
    int b;
    do {
      b = wasm[pos++] & 0xff;
      size |= (long) (b & 0x7f) << shift;
      shift += 7;
    } while ((b & 0x80) != 0);
    return (int) size;
  }

  private static void assertRefused(byte[] wasm, String message, long offset) {
    for (boolean preload : new boolean[] {false, true}) {
      WizerException.InvalidModule e =
          assertThrows(
              WizerException.InvalidModule.class,
              () -> {
                if (preload) {
                  WasmBounds.check(wasm);
                } else {
                  Parse.parse(wasm, false);
                }
              });
      assertTrue(e.getMessage().contains(message), e.getMessage());
      if (offset >= 0) {
        assertEquals(offset, e.offset(), e.getMessage());
      }
    }
  }
}
