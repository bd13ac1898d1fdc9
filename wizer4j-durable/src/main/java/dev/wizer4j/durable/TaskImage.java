package dev.wizer4j.durable;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.MemoryImage;
import dev.wizer4j.ModuleState;
import dev.wizer4j.endive.EndiveInstanceState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.Function;
import run.endive.runtime.GlobalInstance;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.wasm.types.MutabilityType;

/**
 * A task's memory and globals as of one generation, built from its full state and the deltas after
 * it: each memory as extents (offset and bytes, sorted, never overlapping; all other bytes are
 * zero). It puts that state into a fresh instance, and afterwards tells what the instance changed,
 * as a delta.
 *
 * <p>It takes the byte arrays of the states it is given as its own (a delta's bytes are copied into
 * the extents they fall in), so each decoded state feeds one image. Only verified states reach it
 * ({@link ModuleState#checkFits} passed for each), so every segment lies inside its memory and page
 * counts are within the host's limit.
 */
final class TaskImage {
  static final int PAGE = ModuleState.PAGE_SIZE;

  /**
   * Equal bytes shorter than this between two changed ones stay inside one range of a delta: a
   * range costs 13 bytes of header.
   */
  static final int MERGE = 16;

  /** Blocks in which a full state looks for zeros; a region never splits inside one. */
  static final int BLOCK = 64;

  /**
   * Zero bytes from this many on (in whole blocks) end a region of a full state; shorter runs stay
   * inside it, where the bitmap form stores them as bits (compressed, when they repeat).
   */
  static final int SPLIT = 256;

  private static final byte[] ZERO = new byte[PAGE];

  private final long[] pageCounts;
  private final List<NavigableMap<Long, byte[]>> extents;
  private List<GlobalValue> globals;

  private TaskImage(ModuleState full) {
    pageCounts = full.memoryPages().clone();
    extents = new ArrayList<>(pageCounts.length);
    for (int m = 0; m < pageCounts.length; m++) {
      extents.add(new TreeMap<>());
    }
    globals = full.globals();
    for (ModuleState.Segment s : full.segments()) {
      if (s.data().length > 0) {
        extents.get(s.memoryIndex()).put(s.offset(), s.data());
      }
    }
  }

  /** The image of a full state. */
  static TaskImage of(ModuleState full) {
    return new TaskImage(full);
  }

  /** Applies a delta: memories grow to its page counts, its ranges are written, its globals set. */
  void apply(ModuleState delta) {
    for (int m = 0; m < pageCounts.length; m++) {
      pageCounts[m] = Math.max(pageCounts[m], delta.memoryPages()[m]);
    }
    globals = delta.globals();
    for (ModuleState.Segment s : delta.segments()) {
      write(extents.get(s.memoryIndex()), s.offset(), s.data());
    }
  }

  /** Writes {@code data} at {@code offset}: into the extent that holds it, or merging extents. */
  private static void write(NavigableMap<Long, byte[]> map, long offset, byte[] data) {
    if (data.length == 0) {
      return;
    }
    long end = offset + data.length;
    Map.Entry<Long, byte[]> before = map.floorEntry(offset);
    if (before != null && before.getKey() + before.getValue().length < offset) {
      before = null; // ends before the new bytes
    }
    if (before != null && before.getKey() + before.getValue().length >= end) {
      System.arraycopy(data, 0, before.getValue(), (int) (offset - before.getKey()), data.length);
      return;
    }
    NavigableMap<Long, byte[]> inside = map.subMap(offset, false, end, false);
    if (before == null && inside.isEmpty()) {
      map.put(offset, data);
      return;
    }
    long start = before != null ? before.getKey() : offset;
    long last = end;
    for (Map.Entry<Long, byte[]> e : inside.entrySet()) {
      last = Math.max(last, e.getKey() + e.getValue().length);
    }
    byte[] merged = new byte[(int) (last - start)];
    if (before != null) {
      System.arraycopy(before.getValue(), 0, merged, 0, before.getValue().length);
      map.remove(before.getKey());
    }
    for (Map.Entry<Long, byte[]> e : inside.entrySet()) {
      System.arraycopy(e.getValue(), 0, merged, (int) (e.getKey() - start), e.getValue().length);
    }
    inside.clear();
    System.arraycopy(data, 0, merged, (int) (offset - start), data.length);
    map.put(start, merged);
  }

  /** The state as a {@link ModuleState}: one segment per extent. */
  ModuleState state() {
    List<ModuleState.Segment> segments = new ArrayList<>();
    for (int m = 0; m < extents.size(); m++) {
      for (Map.Entry<Long, byte[]> e : extents.get(m).entrySet()) {
        segments.add(new ModuleState.Segment(m, e.getKey(), e.getValue()));
      }
    }
    return new ModuleState(globals, pageCounts.clone(), segments);
  }

  /**
   * Puts this state into {@code instance}, a fresh instance of the guest: memories are cleared (of
   * what the guest's own data segments wrote), grown, and given the image's extents; the mutable
   * globals get the image's values.
   *
   * @return false if a memory could not grow to its size
   */
  boolean writeTo(Instance instance) {
    for (int m = 0; m < pageCounts.length; m++) {
      Memory mem = instance.memory(m);
      mem.zero();
      int grow = (int) pageCounts[m] - mem.pages();
      if (grow > 0 && mem.grow(grow) < 0) {
        return false;
      }
      for (Map.Entry<Long, byte[]> e : extents.get(m).entrySet()) {
        mem.write((int) (long) e.getKey(), e.getValue());
      }
    }
    int next = 0;
    for (int i = 0; i < instance.globalCount(); i++) {
      GlobalInstance g = instance.global(i);
      if (g.getMutabilityType() != MutabilityType.Var) {
        continue;
      }
      GlobalValue v = globals.get(next++);
      if (v.type() == GlobalValue.Type.V128) {
        g.setValueLow(v.bits());
        g.setValueHigh(v.high());
      } else {
        g.setValue(v.bits());
      }
    }
    return true;
  }

  /**
   * What {@code instance}, started from this image, changed: its page counts, all its mutable
   * globals, and the ranges of memory whose bytes differ from the image's (a range may hold up to
   * {@link #MERGE} - 1 unchanged bytes between changed ones). Reads the whole memory once, from the
   * runtime's own pages.
   */
  ModuleState diff(Instance instance, List<GlobalValue.Type> types) {
    long[] counts = new long[pageCounts.length];
    List<ModuleState.Segment> ranges = new ArrayList<>();
    byte[] scratch = new byte[PAGE];
    for (int m = 0; m < pageCounts.length; m++) {
      NavigableMap<Long, byte[]> map = extents.get(m);
      int memory = m;
      counts[m] =
          lent(
              instance,
              m,
              image -> {
                int pages = image.chunkCount();
                for (int p = 0; p < pages; p++) {
                  long base = (long) p * PAGE;
                  byte[] now = image.chunk(p);
                  // The page as the image has it: zeros, one extent's bytes, or pieces of several.
                  byte[] old = ZERO;
                  int oldBase = 0;
                  Map.Entry<Long, byte[]> first = map.floorEntry(base);
                  if (first != null && first.getKey() + first.getValue().length >= base + PAGE) {
                    old = first.getValue();
                    oldBase = (int) (base - first.getKey());
                  } else if (first != null && first.getKey() + first.getValue().length > base
                      || !map.subMap(base, true, base + PAGE, false).isEmpty()) {
                    Arrays.fill(scratch, (byte) 0);
                    copyInto(scratch, base, first, map.subMap(base, false, base + PAGE, false));
                    old = scratch;
                  }
                  changes(memory, base, old, oldBase, now, ranges);
                }
                return (long) pages;
              });
    }
    return new ModuleState(globals(instance, types), counts, ranges);
  }

  /** Copies the parts of {@code first} and {@code rest} that fall in the page at {@code base}. */
  private static void copyInto(
      byte[] page, long base, Map.Entry<Long, byte[]> first, NavigableMap<Long, byte[]> rest) {
    if (first != null) {
      copyPart(page, base, first.getKey(), first.getValue());
    }
    for (Map.Entry<Long, byte[]> e : rest.entrySet()) {
      copyPart(page, base, e.getKey(), e.getValue());
    }
  }

  private static void copyPart(byte[] page, long base, long offset, byte[] data) {
    long from = Math.max(base, offset);
    long to = Math.min(base + PAGE, offset + data.length);
    if (from < to) {
      System.arraycopy(data, (int) (from - offset), page, (int) (from - base), (int) (to - from));
    }
  }

  /** Adds the ranges where {@code now} differs from {@code old} (read from {@code oldBase}). */
  private static void changes(
      int memory, long base, byte[] old, int oldBase, byte[] now, List<ModuleState.Segment> out) {
    int i = 0;
    while (i < PAGE) {
      int k = Arrays.mismatch(old, oldBase + i, oldBase + PAGE, now, i, PAGE);
      if (k < 0) {
        return;
      }
      int start = i + k;
      int end = start + 1;
      for (int j = end; j < PAGE && j - end < MERGE; j++) {
        if (old[oldBase + j] != now[j]) {
          end = j + 1;
        }
      }
      out.add(new ModuleState.Segment(memory, base + start, Arrays.copyOfRange(now, start, end)));
      i = end;
    }
  }

  /**
   * The full state of {@code instance}: its page counts, mutable globals, and its memory as regions
   * that hold every non-zero byte, split where at least {@link #SPLIT} zero bytes lie between two
   * non-zero ones. Fewer, longer regions than a snapshot's data segments (whose number a module
   * must keep small), since the state format stores the zeros inside a region as bits.
   */
  static ModuleState fullState(Instance instance, int memories, List<GlobalValue.Type> types) {
    long[] counts = new long[memories];
    List<ModuleState.Segment> regions = new ArrayList<>();
    for (int m = 0; m < memories; m++) {
      int memory = m;
      counts[m] =
          lent(
              instance,
              m,
              image -> {
                int pages = image.chunkCount();
                long start = -1; // of the open region
                long end = -1; // after its last non-zero block
                for (int p = 0; p < pages; p++) {
                  byte[] page = image.chunk(p);
                  for (int b = 0; b < PAGE; b += BLOCK) {
                    if (Arrays.mismatch(page, b, b + BLOCK, ZERO, 0, BLOCK) < 0) {
                      continue;
                    }
                    long at = (long) p * PAGE + b;
                    if (start >= 0 && at - end >= SPLIT) {
                      regions.add(region(image, memory, start, end));
                      start = -1;
                    }
                    if (start < 0) {
                      start = at;
                    }
                    end = at + BLOCK;
                  }
                }
                if (start >= 0) {
                  regions.add(region(image, memory, start, end));
                }
                return (long) pages;
              });
    }
    return new ModuleState(globals(instance, types), counts, regions);
  }

  /** Bytes {@code [start, end)} of a memory, without the zeros at either end. */
  private static ModuleState.Segment region(MemoryImage image, int m, long start, long end) {
    while (start < end && byteAt(image, start) == 0) {
      start++;
    }
    while (end > start && byteAt(image, end - 1) == 0) {
      end--;
    }
    byte[] data = new byte[(int) (end - start)];
    long at = start;
    int done = 0;
    while (done < data.length) {
      int p = (int) (at / PAGE);
      int off = (int) (at % PAGE);
      int n = Math.min(PAGE - off, data.length - done);
      System.arraycopy(image.chunk(p), off, data, done, n);
      at += n;
      done += n;
    }
    return new ModuleState.Segment(m, start, data);
  }

  private static byte byteAt(MemoryImage image, long addr) {
    return image.chunk((int) (addr / PAGE))[(int) (addr % PAGE)];
  }

  /** Runs {@code reader} on memory {@code m}'s pages, lent by the runtime (64 KiB each). */
  private static long lent(Instance instance, int m, Function<MemoryImage, Long> reader) {
    return EndiveInstanceState.byIndex(instance)
        .memory(
            m,
            "memory " + m,
            image -> {
              if (image.chunkSize() != PAGE) {
                throw new IllegalStateException("memory lent in chunks of " + image.chunkSize());
              }
              return reader.apply(image);
            });
  }

  /** The values of {@code instance}'s mutable globals, which have {@code types}. */
  static List<GlobalValue> globals(Instance instance, List<GlobalValue.Type> types) {
    List<GlobalValue> out = new ArrayList<>(types.size());
    for (int i = 0; i < instance.globalCount(); i++) {
      GlobalInstance g = instance.global(i);
      if (g.getMutabilityType() != MutabilityType.Var) {
        continue;
      }
      out.add(
          switch (types.get(out.size())) {
            case I32 -> GlobalValue.i32((int) g.getValue());
            case I64 -> GlobalValue.i64(g.getValue());
            case F32 -> GlobalValue.f32Bits((int) g.getValue());
            case F64 -> GlobalValue.f64Bits(g.getValue());
            case V128 -> GlobalValue.v128(g.getValueLow(), g.getValueHigh());
          });
    }
    return out;
  }
}
