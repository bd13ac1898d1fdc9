package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.assertSameState;
import static dev.wizer4j.endive.Harness.assertValid;
import static dev.wizer4j.endive.Harness.call;
import static dev.wizer4j.endive.Harness.exports;
import static dev.wizer4j.endive.Harness.instantiate;
import static dev.wizer4j.endive.Harness.wat;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.InstanceState;
import dev.wizer4j.MemoryImage;
import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/** Keeping instrumentation, re-parsing it strictly, and snapshotting live instances. */
class IncrementalSnapshotTest {

  /** A guest that advances a counter and rewrites a fixed-size block of memory on each step. */
  static final String STEPPER =
      """
      (module
        (memory (export "memory") 1)
        (global $steps (mut i32) (i32.const 0))
        (global $acc (mut i64) (i64.const 0))
        (global $k i32 (i32.const 3))
        (data (i32.const 1024) "seed data")
        (func (export "wizer-initialize")
          (i32.store (i32.const 0) (i32.const 0x11111111)))
        (func $step (export "step")
          (local $i i32)
          (global.set $steps (i32.add (global.get $steps) (i32.const 1)))
          (global.set $acc (i64.add (global.get $acc)
                                    (i64.mul (i64.extend_i32_u (global.get $steps)) (i64.const 31))))
          ;; 256 non-zero bytes whose values depend on the step, always in the same place
          (loop $l
            (i32.store8 (i32.add (i32.const 4096) (local.get $i))
                        (i32.or (i32.const 1) (i32.add (local.get $i) (global.get $steps))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 256)))))
        (func (export "steps") (result i32) (global.get $steps))
        (func (export "acc") (result i64) (global.get $acc)))
      """;

  private static final Wizer KEEP = Wizer.builder().keepInstrumentation(true).build();

  @Test
  void keptInstrumentationIsCanonicalAndTheOutputRunsNormally() {
    byte[] out = KEEP.run(wat(STEPPER));
    assertValid(out);
    assertEquals(
        List.of(
            "memory",
            "step",
            "steps",
            "acc",
            "__wizer_global_0",
            "__wizer_global_1",
            "__wizer_memory_0"),
        exports(out));
    Instance i = instantiate(out);
    call(i, "step");
    assertEquals(1, call(i, "steps")[0]);
  }

  @Test
  void aLiveInstanceCanBeSnapshottedAgainAndAgain() {
    byte[] wasm = wat(STEPPER);
    byte[] out = KEEP.run(wasm);
    ModuleContext cx = KEEP.parseInstrumented(out);
    Instance live = instantiate(out);
    Instance reference = Harness.initializedOriginal(wasm, "wizer-initialize");
    for (int round = 1; round <= 5; round++) {
      for (int k = 0; k < round; k++) {
        call(live, "step");
        call(reference, "step");
      }
      byte[] snap = KEEP.snapshot(cx, EndiveInstanceState.of(live));
      assertValid(snap);
      assertSameState(reference, instantiate(snap));
      assertSameState(reference, live); // snapshotting only reads the instance
    }
  }

  @Test
  void hundredCliStyleRoundsKeepExactStateAndDoNotGrow() {
    Wizer step =
        Wizer.builder()
            .instrumentedInput(true)
            .keepInstrumentation(true)
            .keepInitFunc(true)
            .initFunc("step")
            .build();
    byte[] wasm = wat(STEPPER);
    Instance reference = Harness.initializedOriginal(wasm, "wizer-initialize");
    byte[] current = KEEP.run(wasm);
    int firstSize = -1;
    int firstSegments = -1;
    for (int round = 0; round < 100; round++) {
      current = step.run(current);
      call(reference, "step");
      int segments = Parser.parse(current).dataSection().dataSegmentCount();
      if (round == 0) {
        firstSize = current.length;
        firstSegments = segments;
      }
      assertEquals(firstSegments, segments, "segment count in round " + round);
      // The memory's non-zero bytes never move and never become zero, so the only bytes that
      // may change in size are the two globals' values, which grow as signed LEB128 numbers.
      long steps = round + 1L; // each round's snapshot ran step once more
      long acc = 31 * steps * (steps + 1) / 2;
      long firstSteps = 1;
      long firstAcc = 31;
      assertEquals(
          firstSize + slebSize(steps) - slebSize(firstSteps) + slebSize(acc) - slebSize(firstAcc),
          current.length,
          "size in round " + round + ": the snapshot grew beyond its globals' encodings");
    }
    assertValid(current);
    assertSameState(reference, instantiate(current));
    assertEquals(100, call(instantiate(current), "steps")[0]);
  }

  @Test
  void instrumentedInputIsRejectedWithoutTheFlag() {
    byte[] out = KEEP.run(wat(STEPPER));
    WizerException e =
        assertThrows(WizerException.class, () -> Wizer.builder().initFunc("step").build().run(out));
    assertTrue(e.getMessage().contains("--instrumented"), e.getMessage());
  }

  private static void assertForgedRejected(String messagePart, String module) {
    WizerException e =
        assertThrows(WizerException.class, () -> KEEP.parseInstrumented(wat(module)));
    assertTrue(e.getMessage().contains(messagePart), e.getMessage());
  }

  @Test
  void nonCanonicalInstrumentationIsRejected() {
    String head =
        "(module (memory 1) (global (mut i32) (i32.const 0)) (global i32 (i32.const 0))"
            + " (func $f)";
    String ok =
        " (export \"__wizer_global_0\" (global 0)) (export \"__wizer_memory_0\" (memory 0))";
    KEEP.parseInstrumented(wat(head + ok + ")")); // the canonical form is accepted
    assertForgedRejected(
        "missing the instrumentation export `__wizer_global_0`",
        head + " (export \"__wizer_memory_0\" (memory 0)))");
    assertForgedRejected(
        "missing the instrumentation export `__wizer_memory_0`",
        head + " (export \"__wizer_global_0\" (global 0)))");
    assertForgedRejected(
        "non-canonical export `__wizer_global_1`",
        head + ok + " (export \"__wizer_global_1\" (global 1)))"); // an immutable global
    assertForgedRejected(
        "non-canonical export `__wizer_extra`",
        head + ok + " (export \"__wizer_extra\" (func $f)))");
    assertForgedRejected(
        "`__wizer_global_0`: it points at function 0, expected global 0",
        head
            + " (export \"__wizer_global_0\" (func $f)) (export \"__wizer_memory_0\" (memory 0)))");
    assertForgedRejected(
        "non-canonical export `__wizer_global_00`",
        head + ok + " (export \"__wizer_global_00\" (global 0)))");
  }

  @Test
  void forgedInputIsStillFullyValidated() {
    assertForgedRejected(
        "validation failed",
        "(module (memory 1) (export \"__wizer_memory_0\" (memory 0))"
            + " (func (result i32) (i64.const 1)))");
  }

  /**
   * A state that is not a runtime at all: globals and memories copied into plain arrays, as a state
   * file would hold them, keyed by index (the export names are not needed). Snapshots from it must
   * equal snapshots from the live instance.
   */
  static final class SavedState implements InstanceState {
    final Map<Integer, GlobalValue> globals = new HashMap<>();
    final Map<Integer, byte[]> memories = new HashMap<>();

    @Override
    public GlobalValue global(int index, String exportName, GlobalValue.Type type) {
      GlobalValue v = globals.get(index);
      if (v == null) {
        throw new WizerException.StateMismatch("no global " + exportName);
      }
      return v;
    }

    @Override
    public <R> R memory(int index, String exportName, Function<MemoryImage, R> reader) {
      byte[] m = memories.get(index);
      if (m == null) {
        throw new WizerException.StateMismatch("no memory " + exportName);
      }
      return reader.apply(MemoryImage.of(m));
    }
  }

  @Test
  void anyImplementationOfInstanceStateWorks() {
    byte[] out = KEEP.run(wat(STEPPER));
    ModuleContext cx = KEEP.parseInstrumented(out);
    Instance live = instantiate(out);
    for (int k = 0; k < 7; k++) {
      call(live, "step");
    }
    SavedState saved = new SavedState();
    saved.globals.put(0, GlobalValue.i32((int) live.global(0).getValue()));
    saved.globals.put(1, GlobalValue.i64(live.global(1).getValue()));
    saved.memories.put(0, live.memory(0).readBytes(0, live.memory(0).pages() * 65536));
    byte[] fromArrays = KEEP.snapshot(cx, saved);
    byte[] fromLive = KEEP.snapshot(cx, EndiveInstanceState.of(live));
    assertArrayEquals(fromLive, fromArrays);
    assertEquals(7, call(instantiate(fromArrays), "steps")[0]);
  }

  @Test
  void anInstanceOfAnotherModuleIsRefused() {
    byte[] out = KEEP.run(wat(STEPPER));
    ModuleContext cx = KEEP.parseInstrumented(out);
    Instance plain = instantiate(wat(STEPPER)); // not instrumented: no __wizer_* exports
    WizerException e =
        assertThrows(WizerException.class, () -> KEEP.snapshot(cx, EndiveInstanceState.of(plain)));
    assertTrue(e.getMessage().contains("no global export `__wizer_global_0`"), e.getMessage());
    Instance other = instantiate(wat("(module (memory (export \"__wizer_memory_0\") 1))"));
    assertThrows(WizerException.class, () -> KEEP.snapshot(cx, EndiveInstanceState.of(other)));
  }

  /** Bytes of {@code v} as a signed LEB128 number. */
  private static int slebSize(long v) {
    int n = 1;
    while (v < -64 || v > 63) {
      v >>= 7;
      n++;
    }
    return n;
  }
}
