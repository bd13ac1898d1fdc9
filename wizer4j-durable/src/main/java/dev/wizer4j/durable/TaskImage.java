package dev.wizer4j.durable;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.ModuleState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import run.endive.runtime.GlobalInstance;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.wasm.types.MutabilityType;

/**
 * A task's memory and globals as of one generation, built from its full state and the deltas after
 * it: each memory as 64 KiB pages, a page of zeros kept as no page at all. It puts that state into
 * a fresh instance, and afterwards tells what the instance changed, as a delta.
 *
 * <p>Only verified states reach it ({@link ModuleState#checkFits} passed for each), so every
 * segment lies inside its memory and page counts are within the host's limit.
 */
final class TaskImage {
  static final int PAGE = ModuleState.PAGE_SIZE;

  /**
   * Equal bytes shorter than this between two changed ones stay inside one range of a delta: a
   * range costs 13 bytes of header.
   */
  static final int MERGE = 16;

  private static final byte[] ZERO = new byte[PAGE];

  private final long[] pageCounts;
  private final byte[][][] pages;
  private List<GlobalValue> globals;

  private TaskImage(ModuleState full) {
    pageCounts = full.memoryPages().clone();
    pages = new byte[pageCounts.length][][];
    for (int m = 0; m < pages.length; m++) {
      pages[m] = new byte[(int) pageCounts[m]][];
    }
    globals = full.globals();
    write(full.segments());
  }

  /** The image of a full state. */
  static TaskImage of(ModuleState full) {
    return new TaskImage(full);
  }

  /** Applies a delta: memories grow to its page counts, its ranges are written, its globals set. */
  void apply(ModuleState delta) {
    for (int m = 0; m < pages.length; m++) {
      long n = delta.memoryPages()[m];
      if (n > pageCounts[m]) {
        pages[m] = Arrays.copyOf(pages[m], (int) n);
        pageCounts[m] = n;
      }
    }
    globals = delta.globals();
    write(delta.segments());
  }

  private void write(List<ModuleState.Segment> segments) {
    for (ModuleState.Segment s : segments) {
      byte[][] mem = pages[s.memoryIndex()];
      byte[] data = s.data();
      long addr = s.offset();
      int done = 0;
      while (done < data.length) {
        int p = (int) (addr / PAGE);
        int at = (int) (addr % PAGE);
        int n = Math.min(PAGE - at, data.length - done);
        if (mem[p] == null) {
          if (Arrays.mismatch(data, done, done + n, ZERO, 0, n) < 0) {
            addr += n;
            done += n;
            continue; // zeros over zeros
          }
          mem[p] = new byte[PAGE];
        }
        System.arraycopy(data, done, mem[p], at, n);
        addr += n;
        done += n;
      }
    }
  }

  /** The state as a {@link ModuleState}: one segment per page that is not all zeros. */
  ModuleState state() {
    List<ModuleState.Segment> segments = new ArrayList<>();
    for (int m = 0; m < pages.length; m++) {
      for (int p = 0; p < pages[m].length; p++) {
        byte[] page = pages[m][p];
        if (page != null && Arrays.mismatch(page, ZERO) >= 0) {
          segments.add(new ModuleState.Segment(m, (long) p * PAGE, page));
        }
      }
    }
    return new ModuleState(globals, pageCounts.clone(), segments);
  }

  /**
   * Puts this state into {@code instance}, a fresh instance of the guest: memories are cleared (of
   * what the guest's own data segments wrote), grown, and given the image's pages; the mutable
   * globals get the image's values.
   *
   * @return false if a memory could not grow to its size
   */
  boolean writeTo(Instance instance) {
    for (int m = 0; m < pages.length; m++) {
      Memory mem = instance.memory(m);
      mem.zero();
      int grow = (int) pageCounts[m] - mem.pages();
      if (grow > 0 && mem.grow(grow) < 0) {
        return false;
      }
      for (int p = 0; p < pages[m].length; p++) {
        if (pages[m][p] != null) {
          mem.write(p * PAGE, pages[m][p]);
        }
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
   * {@link #MERGE} - 1 unchanged bytes between changed ones). Reads the whole memory once.
   */
  ModuleState diff(Instance instance, List<GlobalValue.Type> types) {
    long[] counts = new long[pages.length];
    List<ModuleState.Segment> ranges = new ArrayList<>();
    for (int m = 0; m < pages.length; m++) {
      Memory mem = instance.memory(m);
      counts[m] = mem.pages();
      for (int p = 0; p < counts[m]; p++) {
        byte[] now = mem.readBytes(p * PAGE, PAGE);
        byte[] old = p < pages[m].length && pages[m][p] != null ? pages[m][p] : ZERO;
        int i = 0;
        while (i < PAGE) {
          int k = Arrays.mismatch(old, i, PAGE, now, i, PAGE);
          if (k < 0) {
            break;
          }
          int start = i + k;
          int end = start + 1;
          for (int j = end; j < PAGE && j - end < MERGE; j++) {
            if (old[j] != now[j]) {
              end = j + 1;
            }
          }
          ranges.add(
              new ModuleState.Segment(
                  m, (long) p * PAGE + start, Arrays.copyOfRange(now, start, end)));
          i = end;
        }
      }
    }
    return new ModuleState(globals(instance, types), counts, ranges);
  }

  /** Blocks in which a full state looks for zeros; a region never splits inside one. */
  static final int BLOCK = 64;

  /**
   * Zero bytes from this many on (in whole blocks) end a region of a full state; shorter runs stay
   * inside it, where the bitmap form stores them as bits (compressed, when they repeat).
   */
  static final int SPLIT = 256;

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
      Memory mem = instance.memory(m);
      counts[m] = mem.pages();
      long size = counts[m] * PAGE;
      long start = -1; // of the open region
      long end = -1; // after its last non-zero block
      for (int p = 0; p < counts[m]; p++) {
        byte[] page = mem.readBytes(p * PAGE, PAGE);
        for (int b = 0; b < PAGE; b += BLOCK) {
          if (Arrays.mismatch(page, b, b + BLOCK, ZERO, 0, BLOCK) < 0) {
            continue;
          }
          long at = (long) p * PAGE + b;
          if (start >= 0 && at - end >= SPLIT) {
            regions.add(region(mem, m, start, end));
            start = -1;
          }
          if (start < 0) {
            start = at;
          }
          end = at + BLOCK;
        }
      }
      if (start >= 0) {
        regions.add(region(mem, m, start, Math.min(end, size)));
      }
    }
    return new ModuleState(globals(instance, types), counts, regions);
  }

  /** Bytes {@code [start, end)} of memory {@code m}, without the zeros at either end. */
  private static ModuleState.Segment region(Memory mem, int m, long start, long end) {
    byte[] data = mem.readBytes((int) start, (int) (end - start));
    int from = 0;
    int to = data.length;
    while (from < to && data[from] == 0) {
      from++;
    }
    while (to > from && data[to - 1] == 0) {
      to--;
    }
    if (from > 0 || to < data.length) {
      data = Arrays.copyOfRange(data, from, to);
    }
    return new ModuleState.Segment(m, start + from, data);
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

  /** Bytes of memory the image holds in pages (for tests). */
  long residentBytes() {
    long n = 0;
    for (byte[][] mem : pages) {
      for (byte[] p : mem) {
        if (p != null) {
          n += PAGE;
        }
      }
    }
    return n;
  }
}
