package dev.wizer4j;

import dev.wizer4j.ModuleContext.InstrumentedGlobal;
import dev.wizer4j.ModuleContext.InstrumentedMemory;
import dev.wizer4j.ModuleContext.Section;

/**
 * The instrumentation pass: exports every defined mutable global and every defined memory under a
 * canonical name, so that any runtime can hand their values to the snapshotter. Only the export
 * section changes; every other section is copied byte for byte, so code offsets (and the DWARF that
 * refers to them) stay valid.
 *
 * <pre>{@code
 * (module                                  (module
 *   (memory 1)                               (memory 1)
 *   (global (mut i32) (i32.const 0))   =>    (global (mut i32) (i32.const 0))
 *   (global i32 (i32.const 7))               (global i32 (i32.const 7))
 *   (export "run" (func 0)) ...)             (export "run" (func 0))
 *                                            (export "__wizer_global_0" (global 0))
 *                                            (export "__wizer_memory_0" (memory 0)) ...)
 * }</pre>
 */
final class Instrument {
  private Instrument() {}

  static byte[] instrument(ModuleContext cx) {
    if (cx.instrumented) {
      return cx.bytes.clone();
    }
    byte[] in = cx.bytes;
    ByteSink out = new ByteSink(in.length + 64);
    out.bytes(in, 0, 8);
    boolean written = false;
    for (Section s : cx.sections) {
      if (s.id() == Wasm.SECTION_EXPORT) {
        writeExports(cx, out);
        written = true;
        continue;
      }
      if (!written && Rewrite.comesAfterExports(s.id())) {
        writeExports(cx, out);
        written = true;
      }
      out.bytes(in, s.start(), s.end() - s.start());
    }
    if (!written) {
      writeExports(cx, out);
    }
    return out.toByteArray();
  }

  private static void writeExports(ModuleContext cx, ByteSink out) {
    VecSection exports = new VecSection(Wasm.SECTION_EXPORT, 64);
    for (ModuleContext.Export e : cx.exports) {
      exports.entry().name(e.name()).u8(e.kind()).u32(e.index());
    }
    appendCanonical(cx, exports);
    exports.writeTo(out);
  }

  /** Writes the canonical instrumentation exports: mutable globals, then memories, by index. */
  static void appendCanonical(ModuleContext cx, VecSection exports) {
    for (InstrumentedGlobal g : cx.instrumentedGlobals) {
      exports.entry().name(g.exportName()).u8(Wasm.KIND_GLOBAL).u32(g.def().index());
    }
    for (InstrumentedMemory m : cx.instrumentedMemories) {
      exports.entry().name(m.exportName()).u8(Wasm.KIND_MEMORY).u32(m.def().index());
    }
  }
}
