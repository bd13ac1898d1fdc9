package dev.wizer4j;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import run.endive.wasm.WasmModule;

/**
 * A validated input module, indexed for the later passes: its sections as {@code (id, offset,
 * length)} views over the input bytes, plus the few entries that the rewrite changes (globals,
 * memories, exports, data segments) decoded with their byte ranges. Obtain one with {@link
 * Wizer#instrument(byte[])} or {@link Wizer#parseInstrumented(byte[])}.
 */
public final class ModuleContext {
  private static final String GLOBAL_PREFIX = "__wizer_global_";
  private static final String MEMORY_PREFIX = "__wizer_memory_";
  static final String WIZER_PREFIX = "__wizer_";

  /** A section: the offset of its id byte, and its payload's offset and length. */
  record Section(int id, int start, int offset, int length) {
    int end() {
      return offset + length;
    }
  }

  /** A defined global; {@code type} is null for reference types. Byte ranges are absolute. */
  record GlobalDef(
      int index, GlobalValue.Type type, boolean mutable, int typeStart, int exprStart, int end) {}

  /** A defined memory: its limits flags and maximum as encoded (its minimum is rewritten). */
  record MemoryDef(int index, int flags, long max) {
    boolean hasMax() {
      return (flags & Wasm.LIMITS_HAS_MAX) != 0;
    }
  }

  record Export(String name, int kind, int index) {}

  /** A defined mutable global and the name of its instrumentation export. */
  record InstrumentedGlobal(GlobalDef def, String exportName) {}

  /** A defined memory, its position among the defined memories, and its export name. */
  record InstrumentedMemory(int position, MemoryDef def, String exportName) {}

  /** A data segment entry; {@code start..end} covers the whole entry, flags included. */
  record DataSegment(boolean active, int memoryIndex, int start, int end) {}

  final byte[] bytes;
  final List<Section> sections;
  final WasmModule module;
  final boolean instrumented;
  final List<GlobalDef> globals;
  final List<MemoryDef> memories;

  /** The exports, without any {@code __wizer_*} instrumentation exports. */
  final List<Export> exports;

  final List<DataSegment> dataSegments;

  /**
   * The instrumentation exports, named once here: every defined mutable global by ascending index,
   * then every defined memory. Instrumenting writes exactly these, parsing an instrumented input
   * checks against them, and the snapshot reads state through them.
   */
  final List<InstrumentedGlobal> instrumentedGlobals;

  final List<InstrumentedMemory> instrumentedMemories;

  /**
   * Index of the first data segment that an earlier snapshot appended (never referenced by code, so
   * a new snapshot replaces it); equals {@code dataSegments.size()} when there is none.
   */
  final int snapshotSegmentsStart;

  ModuleContext(
      byte[] bytes,
      List<Section> sections,
      WasmModule module,
      boolean instrumented,
      List<GlobalDef> globals,
      List<MemoryDef> memories,
      List<Export> exports,
      List<DataSegment> dataSegments,
      int snapshotSegmentsStart) {
    this.bytes = bytes;
    this.sections = List.copyOf(sections);
    this.module = module;
    this.instrumented = instrumented;
    this.globals = List.copyOf(globals);
    this.memories = List.copyOf(memories);
    this.exports = List.copyOf(exports);
    this.dataSegments = List.copyOf(dataSegments);
    this.snapshotSegmentsStart = snapshotSegmentsStart;
    List<InstrumentedGlobal> ig = new ArrayList<>();
    for (GlobalDef g : this.globals) {
      if (g.mutable()) {
        ig.add(new InstrumentedGlobal(g, GLOBAL_PREFIX + g.index()));
      }
    }
    List<InstrumentedMemory> im = new ArrayList<>(this.memories.size());
    for (int m = 0; m < this.memories.size(); m++) {
      MemoryDef def = this.memories.get(m);
      im.add(new InstrumentedMemory(m, def, MEMORY_PREFIX + def.index()));
    }
    this.instrumentedGlobals = List.copyOf(ig);
    this.instrumentedMemories = List.copyOf(im);
  }

  /**
   * The module as the validator decoded it, if {@code type} is the validator's representation
   * (Endive's {@code run.endive.wasm.WasmModule} today), so that a runtime built on the same
   * decoder instantiates it without parsing and validating the bytes again. Empty for any other
   * type: a runtime on another engine starts from {@link #instrumentedBytes()} instead.
   */
  public <T> Optional<T> decoded(Class<T> type) {
    Objects.requireNonNull(type, "type");
    return type.isInstance(module) ? Optional.of(type.cast(module)) : Optional.empty();
  }

  /**
   * The module with its canonical instrumentation exports ({@code __wizer_global_<i>} for each
   * defined mutable global, {@code __wizer_memory_<j>} for each defined memory), for a runtime that
   * reads state through exports. A new array on each call.
   */
  public byte[] instrumentedBytes() {
    return Instrument.instrument(this);
  }

  /** Whether the input already carried the canonical instrumentation exports. */
  public boolean instrumented() {
    return instrumented;
  }

  Export findExport(String name) {
    for (Export e : exports) {
      if (e.name().equals(name)) {
        return e;
      }
    }
    return null;
  }
}
