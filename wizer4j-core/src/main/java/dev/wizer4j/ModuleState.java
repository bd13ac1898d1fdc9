package dev.wizer4j;

import dev.wizer4j.ModuleContext.MemoryDef;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * What a snapshot adds to a module, kept apart from the module's code: the values of the defined
 * mutable globals, the size of every defined memory, and the non-zero regions of memory. A host
 * that stores many states of one guest (durable execution) stores the guest once and one {@code
 * ModuleState} per task; {@link #asInstanceState(ModuleContext)} turns it back into a full module
 * with {@link Wizer#snapshot(ModuleContext, InstanceState)} whenever one is wanted.
 *
 * <p>A state read from storage is data, not code: {@link #checkFits(ModuleContext, long)} checks it
 * against the module it claims to belong to before it is applied to anything.
 *
 * @param globals values of the module's defined mutable globals, by ascending global index
 * @param memoryPages size in 64 KiB pages of each defined memory, by memory index
 * @param segments non-zero regions, sorted by memory then offset, never overlapping
 */
public record ModuleState(List<GlobalValue> globals, long[] memoryPages, List<Segment> segments) {
  /** Bytes in a WebAssembly page. */
  public static final int PAGE_SIZE = 65536;

  /** A region of memory {@code memoryIndex} starting at byte {@code offset}. */
  public record Segment(int memoryIndex, long offset, byte[] data) {
    public Segment {
      Objects.requireNonNull(data, "data");
    }
  }

  public ModuleState {
    globals = List.copyOf(globals);
    memoryPages = memoryPages.clone();
    segments = List.copyOf(segments);
  }

  /** Reads the state of a live instance of {@code cx}'s module, as a snapshot would. */
  public static ModuleState take(ModuleContext cx, InstanceState state) {
    Objects.requireNonNull(cx, "cx");
    Objects.requireNonNull(state, "state");
    return Snapshot.take(cx, state);
  }

  /** The types of {@code cx}'s defined mutable globals, in the order of {@link #globals()}. */
  public static List<GlobalValue.Type> globalTypes(ModuleContext cx) {
    List<GlobalValue.Type> types = new ArrayList<>(cx.instrumentedGlobals.size());
    for (ModuleContext.InstrumentedGlobal g : cx.instrumentedGlobals) {
      types.add(g.def().type());
    }
    return types;
  }

  /** The number of defined memories of {@code cx}, the length {@link #memoryPages()} must have. */
  public static int memoryCount(ModuleContext cx) {
    return cx.memories.size();
  }

  /**
   * Checks that this state could have been taken from an instance of {@code cx}'s module: one value
   * of the right type per mutable global; one size per memory, no smaller than the module's minimum
   * (memories only grow), no larger than its maximum or than {@code maxPages} (the least of what
   * the runtime can hold and what the host allows); segments sorted, not overlapping, inside their
   * memory. Nothing is allocated.
   *
   * @throws WizerException.StateMismatch naming the first thing that does not fit
   */
  public void checkFits(ModuleContext cx, long maxPages) {
    List<GlobalValue.Type> types = globalTypes(cx);
    if (globals.size() != types.size()) {
      throw new WizerException.StateMismatch(
          "state has " + globals.size() + " global values, the module has " + types.size());
    }
    for (int i = 0; i < types.size(); i++) {
      if (globals.get(i).type() != types.get(i)) {
        throw new WizerException.StateMismatch(
            "state global "
                + i
                + " is "
                + globals.get(i).type()
                + ", the module's mutable global "
                + i
                + " is "
                + types.get(i));
      }
    }
    if (memoryPages.length != cx.memories.size()) {
      throw new WizerException.StateMismatch(
          "state has " + memoryPages.length + " memories, the module has " + cx.memories.size());
    }
    for (int m = 0; m < memoryPages.length; m++) {
      MemoryDef def = cx.memories.get(m);
      long pages = memoryPages[m];
      long limit = maxPages;
      if (def.hasMax()) {
        limit = Math.min(limit, def.max());
      }
      if (pages < def.min() || pages > limit) {
        throw new WizerException.StateMismatch(
            "state memory "
                + m
                + " has "
                + pages
                + " pages, outside "
                + def.min()
                + ".."
                + limit
                + " (the module's minimum, and the least of its maximum and the limit of "
                + maxPages
                + ")");
      }
    }
    int memory = -1;
    long end = 0;
    for (int i = 0; i < segments.size(); i++) {
      Segment s = segments.get(i);
      if (s.memoryIndex() < 0 || s.memoryIndex() >= memoryPages.length) {
        throw new WizerException.StateMismatch(
            "state segment " + i + " names memory " + s.memoryIndex());
      }
      if (s.memoryIndex() < memory) {
        throw new WizerException.StateMismatch("state segment " + i + " is out of order");
      }
      if (s.memoryIndex() > memory) {
        memory = s.memoryIndex();
        end = 0;
      }
      long size = memoryPages[memory] * PAGE_SIZE;
      if (s.offset() < end || s.offset() > size || s.data().length > size - s.offset()) {
        throw new WizerException.StateMismatch(
            "state segment "
                + i
                + " ("
                + s.data().length
                + " bytes at "
                + s.offset()
                + ") overlaps the one before or lies outside memory "
                + memory
                + " of "
                + size
                + " bytes");
      }
      end = s.offset() + s.data().length;
    }
  }

  /**
   * This state as the state of an instance, so that {@link Wizer#snapshot(ModuleContext,
   * InstanceState)} can write it as a full module. Call {@link #checkFits} first: memory is laid
   * out in full (zero pages are shared, not allocated).
   */
  public InstanceState asInstanceState(ModuleContext cx) {
    Map<Integer, GlobalValue> byIndex = new HashMap<>();
    int next = 0;
    for (ModuleContext.InstrumentedGlobal g : cx.instrumentedGlobals) {
      byIndex.put(g.def().index(), globals.get(next++));
    }
    Map<Integer, Integer> memories = new HashMap<>();
    for (ModuleContext.InstrumentedMemory m : cx.instrumentedMemories) {
      memories.put(m.def().index(), m.position());
    }
    return new InstanceState() {
      @Override
      public GlobalValue global(int index, String exportName, GlobalValue.Type type) {
        GlobalValue v = byIndex.get(index);
        if (v == null || v.type() != type) {
          throw new WizerException.StateMismatch(
              "the state has no " + type + " global " + Names.quote(exportName));
        }
        return v;
      }

      @Override
      public <R> R memory(int index, String exportName, Function<MemoryImage, R> reader) {
        Integer m = memories.get(index);
        if (m == null) {
          throw new WizerException.StateMismatch(
              "the state has no memory " + Names.quote(exportName));
        }
        return reader.apply(image(m));
      }
    };
  }

  private MemoryImage image(int memory) {
    int pages = (int) memoryPages[memory];
    byte[] zero = new byte[PAGE_SIZE];
    byte[][] chunks = new byte[pages][];
    Arrays.fill(chunks, zero);
    for (Segment s : segments) {
      if (s.memoryIndex() != memory) {
        continue;
      }
      long addr = s.offset();
      int done = 0;
      while (done < s.data().length) {
        int page = (int) (addr / PAGE_SIZE);
        int off = (int) (addr % PAGE_SIZE);
        if (chunks[page] == zero) {
          chunks[page] = new byte[PAGE_SIZE];
        }
        int n = Math.min(PAGE_SIZE - off, s.data().length - done);
        System.arraycopy(s.data(), done, chunks[page], off, n);
        done += n;
        addr += n;
      }
    }
    return MemoryImage.ofChunks(chunks, pages, PAGE_SIZE);
  }
}
