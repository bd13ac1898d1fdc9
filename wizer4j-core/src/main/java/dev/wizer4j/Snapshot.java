package dev.wizer4j;

import dev.wizer4j.ModuleContext.GlobalDef;
import dev.wizer4j.ModuleContext.InstrumentedGlobal;
import dev.wizer4j.ModuleContext.InstrumentedMemory;
import dev.wizer4j.ModuleContext.MemoryDef;
import java.util.ArrayList;
import java.util.List;

/**
 * The snapshot pass: reads the state of an instance after initialization into a {@link
 * ModuleState}: the value of every defined mutable global, the size of every defined memory, and
 * the non-zero regions of memory as data segments.
 */
final class Snapshot {
  private static final int PAGE_SIZE = ModuleState.PAGE_SIZE;

  private Snapshot() {}

  /** Reads the state through {@code state}, by index and canonical instrumentation export name. */
  static ModuleState take(ModuleContext cx, InstanceState state) {
    List<GlobalValue> globals = new ArrayList<>();
    for (InstrumentedGlobal ig : cx.instrumentedGlobals) {
      GlobalDef g = ig.def();
      GlobalValue v = state.global(g.index(), ig.exportName(), g.type());
      if (v == null || v.type() != g.type()) {
        throw new WizerException.StateMismatch(
            "instance state returned "
                + (v == null ? "no value" : "a " + v.type() + " value")
                + " for global "
                + g.index()
                + " of type "
                + g.type());
      }
      globals.add(v);
    }

    int memCount = cx.memories.size();
    long[] pages = new long[memCount];
    List<MemoryScan.Ranges> ranges = new ArrayList<>(memCount);
    for (InstrumentedMemory im : cx.instrumentedMemories) {
      String name = im.exportName();
      final int mi = im.position();
      ranges.add(
          state.memory(
              im.def().index(),
              name,
              image -> {
                if (image.byteLength() % PAGE_SIZE != 0) {
                  throw new WizerException.StateMismatch(
                      "memory "
                          + Names.quote(name)
                          + " is "
                          + image.byteLength()
                          + " bytes, not whole pages");
                }
                pages[mi] = image.byteLength() / PAGE_SIZE;
                return MemoryScan.nonZeroRanges(image);
              }));
    }

    List<MemoryScan.Range> merged = MemoryScan.capSegments(ranges);

    List<ModuleState.Segment> segments = new ArrayList<>(merged.size());
    int next = 0;
    for (InstrumentedMemory im : cx.instrumentedMemories) {
      int m = im.position();
      MemoryDef def = im.def();
      int from = next;
      while (next < merged.size() && merged.get(next).memory() == m) {
        next++;
      }
      if (from == next) {
        continue;
      }
      List<MemoryScan.Range> mine = merged.subList(from, next);
      state.memory(
          def.index(),
          im.exportName(),
          image -> {
            for (MemoryScan.Range r : mine) {
              long len = r.end() - r.start();
              if (r.end() > image.byteLength()) {
                throw new WizerException.StateMismatch(
                    "memory " + def.index() + " shrank while it was being snapshotted");
              }
              byte[] data = new byte[(int) len];
              image.copyTo(r.start(), data, 0, (int) len);
              segments.add(new ModuleState.Segment(def.index(), r.start(), data));
            }
            return null;
          });
    }
    return new ModuleState(globals, pages, segments);
  }
}
