package dev.wizer4j;

import dev.wizer4j.ModuleContext.DataSegment;
import dev.wizer4j.ModuleContext.Export;
import dev.wizer4j.ModuleContext.GlobalDef;
import dev.wizer4j.ModuleContext.MemoryDef;
import dev.wizer4j.ModuleContext.Section;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The rewrite pass: writes the pre-initialized module from the original sections and a snapshot.
 *
 * <pre>{@code
 * (module                                     (module
 *   (memory 1)                                  (memory 2)                 ;; post-init size
 *   (global $g (mut i32) (i32.const 0))         (global $g (mut i32) (i32.const 42))
 *   (data (i32.const 8) "hi")          =>       (data "")                  ;; applied: now empty, passive
 *   (data $p "later")                           (data $p "later")          ;; passive: kept
 *   (start $boot)                                                          ;; already ran
 *   (export "wizer-initialize" (func $init))                               ;; already ran
 *   (export "run" (func $run)))                 (export "run" (func $run))
 *                                               (data (i32.const 8) "hi")  ;; the snapshot
 *                                               (data (i32.const 65536) "\2a"))
 * }</pre>
 *
 * <p>Global, memory, export, start, data-count and data sections are re-encoded; every other
 * section is copied byte for byte. The data section goes before the {@code name} custom section,
 * which some tools expect last. Segments that an earlier snapshot appended to an instrumented input
 * are replaced, not kept, so repeated snapshots do not grow the module.
 */
final class Rewrite {
  private Rewrite() {}

  /** Options of the rewrite, already checked. */
  record Options(
      String initFunc, boolean keepInitFunc, List<Rename> renames, boolean keepInstrumentation) {}

  static byte[] rewrite(ModuleContext cx, ModuleState snap, Options opts) {
    byte[] in = cx.bytes;
    long dataBytes = 0;
    for (ModuleState.Segment seg : snap.segments()) {
      dataBytes += seg.data().length + 12;
    }
    ByteSink out = new ByteSink((int) Math.min(Integer.MAX_VALUE - 16, in.length + dataBytes + 64));
    out.bytes(in, 0, 8);

    int lastNonCustom = -1;
    for (int i = 0; i < cx.sections.size(); i++) {
      if (cx.sections.get(i).id() != Wasm.SECTION_CUSTOM) {
        lastNonCustom = i;
      }
    }
    boolean needData = !snap.segments().isEmpty() || cx.snapshotSegmentsStart > 0;
    boolean dataWritten = false;
    boolean exportsWritten = false;

    for (int i = 0; i < cx.sections.size(); i++) {
      Section s = cx.sections.get(i);
      if (!exportsWritten && opts.keepInstrumentation() && comesAfterExports(s.id())) {
        // The input had no export section but the instrumentation must be kept.
        writeExports(cx, opts, out);
        exportsWritten = true;
      }
      switch (s.id()) {
        case Wasm.SECTION_MEMORY -> writeMemories(cx, snap, out);
        case Wasm.SECTION_GLOBAL -> writeGlobals(cx, snap, out);
        case Wasm.SECTION_EXPORT -> {
          writeExports(cx, opts, out);
          exportsWritten = true;
        }
        case Wasm.SECTION_START -> {} // it already ran
        case Wasm.SECTION_DATA_COUNT -> {
          long count = cx.snapshotSegmentsStart + snap.segments().size();
          out.u8(Wasm.SECTION_DATA_COUNT).u32(ByteSink.sizeU32(count)).u32(count);
        }
        case Wasm.SECTION_DATA -> {
          writeData(cx, snap, out);
          dataWritten = true;
        }
        default -> {
          if (!dataWritten && needData && i > lastNonCustom && Parse.isNameSection(in, s)) {
            writeData(cx, snap, out);
            dataWritten = true;
          }
          out.bytes(in, s.start(), s.end() - s.start());
        }
      }
    }
    if (!exportsWritten && opts.keepInstrumentation()) {
      writeExports(cx, opts, out);
    }
    if (!dataWritten && needData) {
      writeData(cx, snap, out);
    }
    return out.toByteArray();
  }

  /** Whether a section with this id must come after the export section (custom ones: no). */
  static boolean comesAfterExports(int id) {
    return id == Wasm.SECTION_START
        || id == Wasm.SECTION_ELEMENT
        || id == Wasm.SECTION_DATA_COUNT
        || id == Wasm.SECTION_CODE
        || id == Wasm.SECTION_DATA;
  }

  private static void writeMemories(ModuleContext cx, ModuleState snap, ByteSink out) {
    VecSection memories = new VecSection(Wasm.SECTION_MEMORY, 16);
    for (int m = 0; m < cx.memories.size(); m++) {
      MemoryDef def = cx.memories.get(m);
      ByteSink entry = memories.entry().u32(def.flags()).u32(snap.memoryPages()[m]);
      if (def.hasMax()) {
        entry.u32(def.max());
      }
    }
    memories.writeTo(out);
  }

  private static void writeGlobals(ModuleContext cx, ModuleState snap, ByteSink out) {
    byte[] in = cx.bytes;
    VecSection globals = new VecSection(Wasm.SECTION_GLOBAL, 16 * cx.globals.size());
    int next = 0;
    for (GlobalDef g : cx.globals) {
      if (g.mutable()) {
        ByteSink entry = globals.entry().bytes(in, g.typeStart(), g.exprStart() - g.typeStart());
        snap.globals().get(next++).writeConstExpr(entry);
      } else {
        globals.entry().bytes(in, g.typeStart(), g.end() - g.typeStart());
      }
    }
    globals.writeTo(out);
  }

  private static void writeExports(ModuleContext cx, Options opts, ByteSink out) {
    boolean hasWasiInitialize = cx.findExport("_initialize") != null;
    // Destinations and sources are each unique (the builder checks), so maps hold them exactly.
    Map<String, String> dstBySrc = new HashMap<>();
    Set<String> dsts = new HashSet<>();
    for (Rename r : opts.renames()) {
      dstBySrc.put(r.src(), r.dst());
      dsts.add(r.dst());
    }
    VecSection exports = new VecSection(Wasm.SECTION_EXPORT, 32 * cx.exports.size());
    for (Export e : cx.exports) {
      String name = e.name();
      if ((name.equals(opts.initFunc()) && !opts.keepInitFunc())
          || (hasWasiInitialize && name.equals("_initialize"))) {
        continue;
      }
      String renamed = dstBySrc.get(name);
      if (renamed == null && dsts.contains(name)) {
        continue; // a rename takes over this name
      }
      exports.entry().name(renamed != null ? renamed : name).u8(e.kind()).u32(e.index());
    }
    if (opts.keepInstrumentation()) {
      Instrument.appendCanonical(cx, exports);
    }
    exports.writeTo(out);
  }

  /**
   * Original active segments (already applied) become empty passive segments, so that segment
   * indices used by {@code memory.init} stay valid; passive segments are kept as they are; the
   * snapshot's segments are appended. Segments that an earlier snapshot appended are dropped.
   */
  private static void writeData(ModuleContext cx, ModuleState snap, ByteSink out) {
    byte[] in = cx.bytes;
    int kept = cx.snapshotSegmentsStart;
    int count = kept + snap.segments().size();
    // The size goes before the entries, and the entries (megabytes of memory) are written
    // straight into the output rather than into a body to be copied, so the size is the sum of
    // each entry's size, computed by the function beside the one that writes the entry.
    long size = ByteSink.sizeU32(count);
    for (int i = 0; i < kept; i++) {
      size += keptSegmentSize(cx.dataSegments.get(i));
    }
    for (ModuleState.Segment seg : snap.segments()) {
      size += activeSegmentSize(seg);
    }
    if (size > 0xffffffffL) {
      throw new WizerException.Unsupported(
          "the data section of the output would be larger than 4 GiB");
    }
    out.u8(Wasm.SECTION_DATA).u32(size);
    int before = out.size();
    out.u32(count);
    for (int i = 0; i < kept; i++) {
      writeKeptSegment(in, cx.dataSegments.get(i), out);
    }
    for (ModuleState.Segment seg : snap.segments()) {
      writeActiveSegment(seg, out);
    }
    if (out.size() - before != size) {
      throw new IllegalStateException("data section size mismatch");
    }
  }

  /** An original segment: active ones (already applied) become empty passive ones. */
  private static long keptSegmentSize(DataSegment d) {
    return d.active() ? 2 : d.end() - d.start();
  }

  private static void writeKeptSegment(byte[] in, DataSegment d, ByteSink out) {
    if (d.active()) {
      out.u8(Wasm.DATA_PASSIVE).u32(0); // no bytes
    } else {
      out.bytes(in, d.start(), d.end() - d.start());
    }
  }

  private static long activeSegmentSize(ModuleState.Segment seg) {
    int len = seg.data().length;
    return activeSegmentHeaderSize(seg.memoryIndex(), seg.offset(), len) + len;
  }

  /**
   * Bytes an active segment takes besides its data: flags (and memory index), the offset
   * expression, the length. {@link MemoryScan} weighs merges with it.
   */
  static int activeSegmentHeaderSize(int memory, long offset, long length) {
    int flagsAndMemory = memory == 0 ? 1 : 1 + ByteSink.sizeU32(memory);
    return flagsAndMemory + 1 + ByteSink.sizeS64((int) offset) + 1 + ByteSink.sizeU32(length);
  }

  private static void writeActiveSegment(ModuleState.Segment seg, ByteSink out) {
    if (seg.memoryIndex() == 0) {
      out.u8(Wasm.DATA_ACTIVE);
    } else {
      out.u8(Wasm.DATA_ACTIVE_MEMORY).u32(seg.memoryIndex());
    }
    out.u8(Wasm.OP_I32_CONST).s64((int) seg.offset()).u8(Wasm.OP_END);
    out.u32(seg.data().length).bytes(seg.data());
  }
}
