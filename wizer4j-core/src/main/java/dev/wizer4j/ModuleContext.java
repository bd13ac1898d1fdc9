package dev.wizer4j;

import java.util.List;
import run.endive.wasm.WasmModule;

/**
 * A validated input module, indexed for the later passes: its sections as {@code (id, offset,
 * length)} views over the input bytes, plus the few entries that the rewrite changes (globals,
 * memories, exports, data segments) decoded with their byte ranges. Obtain one with {@link
 * Wizer#instrument(byte[])} or {@link Wizer#parseInstrumented(byte[])}.
 */
public final class ModuleContext {
  static final String GLOBAL_PREFIX = "__wizer_global_";
  static final String MEMORY_PREFIX = "__wizer_memory_";
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
  }

  /** The parsed and validated module, for a runtime to instantiate without parsing it again. */
  public WasmModule wasmModule() {
    return module;
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
