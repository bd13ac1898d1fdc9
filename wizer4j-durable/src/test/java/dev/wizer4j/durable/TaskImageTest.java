package dev.wizer4j.durable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.ModuleState;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/**
 * A task's image against a flat copy of memory: deltas written over and across extents, and the
 * diff of an instance changed at random, applied to the image, give the instance's memory.
 */
class TaskImageTest {
  private static final int PAGES = 4;
  private static final int SIZE = PAGES * TaskImage.PAGE;
  private static final List<GlobalValue.Type> TYPES =
      List.of(GlobalValue.Type.I32, GlobalValue.Type.I64);

  private static byte[] flat(ModuleState s) {
    byte[] mem = new byte[(int) s.memoryPages()[0] * TaskImage.PAGE];
    for (ModuleState.Segment seg : s.segments()) {
      System.arraycopy(seg.data(), 0, mem, (int) seg.offset(), seg.data().length);
    }
    return mem;
  }

  /** Non-overlapping random segments in {@code [0, size)}, sorted. */
  private static List<ModuleState.Segment> segments(Random rnd, int size, int count, int maxLen) {
    List<ModuleState.Segment> out = new ArrayList<>();
    long at = rnd.nextInt(2000);
    for (int i = 0; i < count && at < size; i++) {
      int len = (int) Math.min(1 + rnd.nextInt(maxLen), size - at);
      byte[] data = new byte[len];
      rnd.nextBytes(data);
      out.add(new ModuleState.Segment(0, at, data));
      at += len + rnd.nextInt(3 * maxLen);
    }
    return out;
  }

  private static List<GlobalValue> globals(Random rnd) {
    return List.of(GlobalValue.i32(rnd.nextInt()), GlobalValue.i64(rnd.nextLong()));
  }

  @Test
  void deltasOverAndAcrossExtentsGiveTheSameMemoryAsAFlatCopy() {
    Random rnd = new Random(42);
    for (int round = 0; round < 200; round++) {
      ModuleState full =
          new ModuleState(globals(rnd), new long[] {2}, segments(rnd, 2 * TaskImage.PAGE, 8, 9000));
      byte[] expected = java.util.Arrays.copyOf(flat(full), SIZE);
      TaskImage image = TaskImage.of(full);
      long pages = 2;
      for (int d = 0; d < 6; d++) {
        pages = Math.min(PAGES, pages + rnd.nextInt(2));
        List<ModuleState.Segment> ranges = segments(rnd, (int) pages * TaskImage.PAGE, 6, 20000);
        for (ModuleState.Segment r : ranges) {
          System.arraycopy(r.data(), 0, expected, (int) r.offset(), r.data().length);
        }
        image.apply(new ModuleState(globals(rnd), new long[] {pages}, ranges));
      }
      ModuleState s = image.state();
      assertEquals(pages, s.memoryPages()[0]);
      byte[] got = flat(s);
      assertArrayEquals(java.util.Arrays.copyOf(expected, got.length), got, "round " + round);
      // Extents never overlap and stay sorted: the state fits a memory of its size.
      long end = 0;
      for (ModuleState.Segment seg : s.segments()) {
        assertTrue(seg.offset() >= end, "round " + round);
        end = seg.offset() + seg.data().length;
      }
    }
  }

  @Test
  void theDiffOfAnInstanceAppliedToItsImageGivesTheInstancesMemory() {
    Random rnd = new Random(7);
    for (int round = 0; round < 30; round++) {
      Instance instance = Instance.builder(Parser.parse(Guests.wasm())).withStart(false).build();
      ModuleState full =
          new ModuleState(globals(rnd), new long[] {2}, segments(rnd, 2 * TaskImage.PAGE, 6, 5000));
      TaskImage image = TaskImage.of(full);
      assertTrue(image.writeTo(instance));
      var mem = instance.memory(0);
      assertArrayEquals(flat(full), mem.readBytes(0, 2 * TaskImage.PAGE));

      // Change it: a few bytes, runs across a page boundary, zeros over data, new pages.
      mem.grow(rnd.nextInt(3));
      for (int k = 0; k < 20; k++) {
        int len = 1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 3000);
        int at = rnd.nextInt(mem.pages() * TaskImage.PAGE - len);
        byte[] data = new byte[len];
        if (rnd.nextBoolean()) {
          rnd.nextBytes(data);
        }
        mem.write(at, data);
      }
      int firstMutable = 0;
      while (instance.global(firstMutable).getMutabilityType()
          != run.endive.wasm.types.MutabilityType.Var) {
        firstMutable++;
      }
      instance.global(firstMutable).setValue(round);

      ModuleState delta = image.diff(instance, TYPES);
      assertEquals(mem.pages(), delta.memoryPages()[0]);
      assertEquals(GlobalValue.i32(round), delta.globals().get(0));
      TaskImage again = TaskImage.of(full.segments().isEmpty() ? full : copy(full));
      again.apply(delta);
      assertArrayEquals(
          mem.readBytes(0, mem.pages() * TaskImage.PAGE), flat(again.state()), "round " + round);
      // Nothing changed, nothing to save.
      TaskImage now = TaskImage.of(copy(again.state()));
      assertTrue(now.diff(instance, TYPES).segments().isEmpty(), "round " + round);
    }
  }

  /** A state with copies of its arrays (an image takes a state's arrays as its own). */
  private static ModuleState copy(ModuleState s) {
    List<ModuleState.Segment> segs = new ArrayList<>();
    for (ModuleState.Segment seg : s.segments()) {
      segs.add(new ModuleState.Segment(seg.memoryIndex(), seg.offset(), seg.data().clone()));
    }
    return new ModuleState(s.globals(), s.memoryPages(), segs);
  }
}
