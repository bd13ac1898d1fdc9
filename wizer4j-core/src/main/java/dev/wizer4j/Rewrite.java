package dev.wizer4j;

import dev.wizer4j.ModuleContext.DataSegment;
import dev.wizer4j.ModuleContext.Export;
import dev.wizer4j.ModuleContext.GlobalDef;
import dev.wizer4j.ModuleContext.MemoryDef;
import dev.wizer4j.ModuleContext.Section;
import java.util.ArrayList;
import java.util.List;

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
      String initFunc, boolean keepInitFunc, List<String[]> renames, boolean keepInstrumentation) {}

  static byte[] rewrite(ModuleContext cx, Snapshot snap, Options opts) {
    byte[] in = cx.bytes;
    long dataBytes = 0;
    for (Snapshot.Segment seg : snap.segments()) {
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
          ByteSink body = new ByteSink(5);
          body.u32(cx.snapshotSegmentsStart + snap.segments().size());
          out.section(Wasm.SECTION_DATA_COUNT, body);
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

  private static void writeMemories(ModuleContext cx, Snapshot snap, ByteSink out) {
    ByteSink body = new ByteSink(16);
    body.u32(cx.memories.size());
    for (int m = 0; m < cx.memories.size(); m++) {
      MemoryDef def = cx.memories.get(m);
      long pages = snap.memoryPages()[m];
      body.u32(def.flags()).u32(pages);
      if (def.hasMax()) {
        body.u32(def.max());
      }
    }
    out.section(Wasm.SECTION_MEMORY, body);
  }

  private static void writeGlobals(ModuleContext cx, Snapshot snap, ByteSink out) {
    byte[] in = cx.bytes;
    ByteSink body = new ByteSink(16 * cx.globals.size() + 5);
    body.u32(cx.globals.size());
    int next = 0;
    for (GlobalDef g : cx.globals) {
      if (g.mutable()) {
        body.bytes(in, g.typeStart(), g.exprStart() - g.typeStart());
        snap.globals().get(next++).writeConstExpr(body);
      } else {
        body.bytes(in, g.typeStart(), g.end() - g.typeStart());
      }
    }
    out.section(Wasm.SECTION_GLOBAL, body);
  }

  private static void writeExports(ModuleContext cx, Options opts, ByteSink out) {
    boolean hasWasiInitialize = cx.findExport("_initialize") != null;
    List<Export> kept = new ArrayList<>();
    List<String> names = new ArrayList<>();
    for (Export e : cx.exports) {
      String name = e.name();
      if ((name.equals(opts.initFunc()) && !opts.keepInitFunc())
          || (hasWasiInitialize && name.equals("_initialize"))) {
        continue;
      }
      String renamed = null;
      boolean overwritten = false;
      for (String[] r : opts.renames()) {
        if (r[1].equals(name)) {
          renamed = r[0];
        }
        if (r[0].equals(name)) {
          overwritten = true;
        }
      }
      if (renamed == null && overwritten) {
        continue; // a rename takes over this name
      }
      kept.add(e);
      names.add(renamed != null ? renamed : name);
    }
    int count = kept.size() + (opts.keepInstrumentation() ? Instrument.canonicalCount(cx) : 0);
    ByteSink body = new ByteSink(32 * count + 5);
    body.u32(count);
    for (int i = 0; i < kept.size(); i++) {
      Export e = kept.get(i);
      body.name(names.get(i)).u8(e.kind()).u32(e.index());
    }
    if (opts.keepInstrumentation()) {
      Instrument.appendCanonical(cx, body);
    }
    out.section(Wasm.SECTION_EXPORT, body);
  }

  /**
   * Original active segments (already applied) become empty passive segments, so that segment
   * indices used by {@code memory.init} stay valid; passive segments are kept as they are; the
   * snapshot's segments are appended. Segments that an earlier snapshot appended are dropped.
   */
  private static void writeData(ModuleContext cx, Snapshot snap, ByteSink out) {
    byte[] in = cx.bytes;
    int kept = cx.snapshotSegmentsStart;
    long size = ByteSink.sizeU32(kept + snap.segments().size());
    for (int i = 0; i < kept; i++) {
      DataSegment d = cx.dataSegments.get(i);
      size += d.active() ? 2 : d.end() - d.start();
    }
    for (Snapshot.Segment seg : snap.segments()) {
      size += segmentSize(seg);
    }
    if (size > 0xffffffffL) {
      throw new WizerException.Unsupported(
          "the data section of the output would be larger than 4 GiB");
    }
    out.u8(Wasm.SECTION_DATA).u32(size);
    int before = out.size();
    out.u32(kept + snap.segments().size());
    for (int i = 0; i < kept; i++) {
      DataSegment d = cx.dataSegments.get(i);
      if (d.active()) {
        out.u8(Wasm.DATA_PASSIVE).u32(0); // no bytes
      } else {
        out.bytes(in, d.start(), d.end() - d.start());
      }
    }
    for (Snapshot.Segment seg : snap.segments()) {
      if (seg.memoryIndex() == 0) {
        out.u8(Wasm.DATA_ACTIVE);
      } else {
        out.u8(Wasm.DATA_ACTIVE_MEMORY).u32(seg.memoryIndex());
      }
      out.u8(Wasm.OP_I32_CONST).s64((int) seg.offset()).u8(Wasm.OP_END);
      out.u32(seg.data().length).bytes(seg.data());
    }
    if (out.size() - before != size) {
      throw new IllegalStateException("data section size mismatch");
    }
  }

  private static long segmentSize(Snapshot.Segment seg) {
    int len = seg.data().length;
    return MemoryScan.segmentHeaderSize(seg.memoryIndex(), seg.offset(), len) + len;
  }
}
