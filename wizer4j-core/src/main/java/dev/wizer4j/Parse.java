package dev.wizer4j;

import dev.wizer4j.ModuleContext.DataSegment;
import dev.wizer4j.ModuleContext.Export;
import dev.wizer4j.ModuleContext.GlobalDef;
import dev.wizer4j.ModuleContext.MemoryDef;
import dev.wizer4j.ModuleContext.Section;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;

/**
 * The parse pass: indexes the input's sections, decodes the few sections a later pass changes,
 * validates the whole module (every function body type-checked) and applies the rules of what can
 * be snapshotted ({@link Check}).
 *
 * <p>Sections are recorded as views over the input; nothing else is decoded, so unchanged sections
 * can later be copied as raw bytes.
 */
final class Parse {
  static final int CUSTOM = 0;
  static final int IMPORT = 2;
  static final int FUNCTION = 3;
  static final int TABLE = 4;
  static final int MEMORY = 5;
  static final int GLOBAL = 6;
  static final int EXPORT = 7;
  static final int START = 8;
  static final int ELEMENT = 9;
  static final int CODE = 10;
  static final int DATA = 11;
  static final int DATA_COUNT = 12;
  static final int TAG = 13;

  private Parse() {}

  static ModuleContext parse(byte[] bytes, boolean instrumented) {
    List<Section> sections = scanSections(bytes);

    int importedFunctions = 0;
    int importedGlobals = 0;
    List<String> unsupportedImports = new ArrayList<>();
    List<GlobalDef> globals = new ArrayList<>();
    List<MemoryDef> memories = new ArrayList<>();
    List<Export> allExports = new ArrayList<>();
    List<DataSegment> data = new ArrayList<>();
    int importedMemories = 0;
    int importedTables = 0;
    int importedTags = 0;
    int definedFunctions = 0;
    int definedTables = 0;
    int definedTags = 0;
    List<Integer> exportOffsets = new ArrayList<>();
    String wizerImport = null;

    for (Section s : sections) {
      WasmReader r = new WasmReader(bytes, s.offset(), s.end());
      switch (s.id()) {
        case IMPORT -> {
          int n = r.u32AsInt("import count");
          for (int i = 0; i < n; i++) {
            int at = r.pos();
            String module = r.name();
            String name = r.name();
            int kind = r.u8();
            if (wizerImport == null
                && (module.startsWith(ModuleContext.WIZER_PREFIX)
                    || name.startsWith(ModuleContext.WIZER_PREFIX))) {
              wizerImport = module + "." + name;
            }
            switch (kind) {
              case ModuleContext.KIND_FUNC -> {
                r.u32();
                importedFunctions++;
              }
              case ModuleContext.KIND_TABLE -> {
                r.skipValType();
                skipLimits(r);
                importedTables++;
                unsupportedImports.add("table `" + module + "." + name + "`");
              }
              case ModuleContext.KIND_MEMORY -> {
                skipLimits(r);
                importedMemories++;
                unsupportedImports.add("memory `" + module + "." + name + "`");
              }
              case ModuleContext.KIND_GLOBAL -> {
                r.skipValType();
                r.u8();
                importedGlobals++;
                unsupportedImports.add("global `" + module + "." + name + "`");
              }
              case ModuleContext.KIND_TAG -> {
                r.u8();
                r.u32();
                importedTags++;
              }
              default -> throw new WizerException.InvalidModule("unknown import kind " + kind, at);
            }
          }
        }
        case FUNCTION -> definedFunctions = r.u32AsInt("function count");
        case TABLE -> definedTables = r.u32AsInt("table count");
        case TAG -> definedTags = r.u32AsInt("tag count");
        case ELEMENT -> checkElements(r);
        case MEMORY -> {
          int n = r.u32AsInt("memory count");
          for (int i = 0; i < n; i++) {
            int at = r.pos();
            int flags = (int) r.u32();
            boolean is64 = (flags & 4) != 0;
            long min = is64 ? r.u64() : r.u32();
            long max = (flags & 1) != 0 ? (is64 ? r.u64() : r.u32()) : -1;
            long pageLog2 = (flags & 8) != 0 ? r.u32() : 16;
            int index = importedMemories + i;
            if (is64) {
              throw new WizerException.Unsupported(
                  String.format(
                      "memory %d is a 64-bit memory (memory64), which wizer4j does not support"
                          + " (at offset 0x%x)",
                      index, at));
            }
            if ((flags & 8) != 0) {
              throw new WizerException.Unsupported(
                  String.format(
                      "memory %d has a custom page size (custom-page-sizes), which wizer4j does"
                          + " not support (at offset 0x%x)",
                      index, at));
            }
            if ((flags & ~3) != 0) {
              throw new WizerException.InvalidModule("unknown memory limits flags " + flags, at);
            }
            memories.add(new MemoryDef(index, flags, min, max, pageLog2));
          }
        }
        case GLOBAL -> {
          int n = r.u32AsInt("global count");
          for (int i = 0; i < n; i++) {
            int typeStart = r.pos();
            int code = r.u8();
            if (code == 0x63 || code == 0x64) {
              r.s64();
            }
            int mut = r.u8();
            int exprStart = r.pos();
            r.skipConstExpr();
            globals.add(
                new GlobalDef(
                    importedGlobals + i,
                    GlobalValue.Type.fromCode(code),
                    (mut & 1) != 0,
                    typeStart,
                    exprStart,
                    r.pos()));
          }
        }
        case EXPORT -> {
          int n = r.u32AsInt("export count");
          for (int i = 0; i < n; i++) {
            exportOffsets.add(r.pos());
            String name = r.name();
            int kind = r.u8();
            int index = r.u32AsInt("export index");
            allExports.add(new Export(name, kind, index));
          }
        }
        case DATA -> {
          int n = r.u32AsInt("data segment count");
          for (int i = 0; i < n; i++) {
            int start = r.pos();
            long flags = r.u32();
            int memory = 0;
            boolean active;
            if (flags == 0) {
              active = true;
              r.skipConstExpr();
            } else if (flags == 1) {
              active = false;
            } else if (flags == 2) {
              active = true;
              memory = r.u32AsInt("memory index");
              r.skipConstExpr();
            } else {
              throw new WizerException.InvalidModule("unknown data segment flags " + flags, start);
            }
            int len = r.u32AsInt("data segment length");
            r.skip(len, "data segment");
            data.add(new DataSegment(active, memory, start, r.pos()));
          }
        }
        default -> {}
      }
      boolean decoded =
          s.id() == IMPORT
              || s.id() == ELEMENT
              || s.id() == MEMORY
              || s.id() == GLOBAL
              || s.id() == EXPORT
              || s.id() == DATA;
      if (decoded && !r.atEnd()) {
        throw new WizerException.InvalidModule(
            "section " + s.id() + " has " + (r.limit() - r.pos()) + " bytes left after its entries",
            r.pos());
      }
    }

    // Endive's validator does not bound export indices; an export past the end of its index
    // space would otherwise surface as a confusing failure at instantiation, or be copied into
    // an invalid output.
    int[] counts = {
      importedFunctions + definedFunctions,
      importedTables + definedTables,
      importedMemories + memories.size(),
      importedGlobals + globals.size(),
      importedTags + definedTags
    };
    for (int i = 0; i < allExports.size(); i++) {
      Export e = allExports.get(i);
      if (e.kind() < 0 || e.kind() >= counts.length) {
        throw new WizerException.InvalidModule(
            "export `" + e.name() + "` has unknown kind " + e.kind(), exportOffsets.get(i));
      }
      if (e.index() >= counts[e.kind()]) {
        throw new WizerException.InvalidModule(
            "export `"
                + e.name()
                + "` refers to "
                + ModuleContext.kindName(e.kind())
                + " "
                + e.index()
                + ", but the module has "
                + counts[e.kind()],
            exportOffsets.get(i));
      }
    }

    // The checks run in the order Wizer runs them, so that a module with several problems gets
    // the same first complaint from both tools.
    int codeBytes = 0;
    for (Section s : sections) {
      if (s.id() == CODE) {
        codeBytes = s.length();
      }
    }
    WasmModule module = validate(bytes, codeBytes);
    Check.globals(globals);
    int maxMemoryInit = Check.code(module, importedFunctions);
    if (wizerImport != null) {
      throw new WizerException.Unsupported(
          "input Wasm module already imports entities named with the `__wizer_*` prefix: `"
              + wizerImport
              + "`");
    }

    List<Export> exports = new ArrayList<>(allExports.size());
    List<Export> instrumentation = new ArrayList<>();
    for (Export e : allExports) {
      (e.name().startsWith(ModuleContext.WIZER_PREFIX) ? instrumentation : exports).add(e);
    }
    if (!instrumented && !instrumentation.isEmpty()) {
      throw new WizerException.Unsupported(
          "input Wasm module already exports entities named with the `__wizer_*` prefix: `"
              + instrumentation.get(0).name()
              + "`; if it was written with --keep-instrumentation, pass --instrumented"
              + " (API: parseInstrumented) to snapshot it again");
    }

    // Segments that an earlier snapshot appended are the trailing run of active segments that no
    // `memory.init` can name. Replacing them (rather than keeping them as empty passive
    // segments) is what keeps a module from growing over repeated snapshots.
    int snapshotStart = data.size();
    if (instrumented) {
      while (snapshotStart > 0
          && snapshotStart - 1 > maxMemoryInit
          && data.get(snapshotStart - 1).active()) {
        snapshotStart--;
      }
    }

    ModuleContext cx =
        new ModuleContext(
            bytes,
            sections,
            module,
            instrumented,
            importedFunctions,
            globals,
            memories,
            exports,
            data,
            snapshotStart);
    if (instrumented) {
      Check.canonicalInstrumentation(instrumentation, cx);
    }
    Check.imports(unsupportedImports);
    return cx;
  }

  /**
   * Walks the element segments, so that unknown segment flags (which Endive's parser lets through,
   * and which the output would copy) are rejected with their offset.
   */
  private static void checkElements(WasmReader r) {
    int n = r.u32AsInt("element segment count");
    for (int i = 0; i < n; i++) {
      int at = r.pos();
      long flags = r.u32();
      if (flags > 7) {
        throw new WizerException.InvalidModule("unknown element segment flags " + flags, at);
      }
      boolean passiveOrDeclarative = (flags & 1) != 0;
      boolean explicitTable = (flags & 2) != 0;
      boolean expressions = (flags & 4) != 0;
      if (!passiveOrDeclarative) {
        if (explicitTable) {
          r.u32();
        }
        r.skipConstExpr();
      }
      if (passiveOrDeclarative || explicitTable) {
        if (expressions) {
          r.skipValType();
        } else if (r.u8() != 0) {
          throw new WizerException.InvalidModule("unknown element kind", r.pos() - 1);
        }
      }
      int items = r.u32AsInt("element count");
      for (int k = 0; k < items; k++) {
        if (expressions) {
          r.skipConstExpr();
        } else {
          r.u32();
        }
      }
    }
  }

  private static void skipLimits(WasmReader r) {
    int flags = (int) r.u32();
    boolean is64 = (flags & 4) != 0;
    if (is64) {
      r.u64();
    } else {
      r.u32();
    }
    if ((flags & 1) != 0) {
      if (is64) {
        r.u64();
      } else {
        r.u32();
      }
    }
    if ((flags & 8) != 0) {
      r.u32();
    }
  }

  /** Checks the header and records every section as a view; nothing inside them is decoded. */
  static List<Section> scanSections(byte[] bytes) {
    if (bytes.length < 8) {
      throw new WizerException.InvalidModule(
          "not a WebAssembly module: " + bytes.length + " bytes is shorter than the 8-byte header",
          0);
    }
    if (bytes[0] != 0 || bytes[1] != 'a' || bytes[2] != 's' || bytes[3] != 'm') {
      throw new WizerException.InvalidModule(
          "not a WebAssembly module: the magic number `\\0asm` is missing", 0);
    }
    int version = (bytes[4] & 0xff) | (bytes[5] & 0xff) << 8;
    int layer = (bytes[6] & 0xff) | (bytes[7] & 0xff) << 8;
    if (layer == 1) {
      throw new WizerException.Unsupported(
          "expected a core module, found a component; wizer4j pre-initializes core modules only");
    }
    if (version != 1 || layer != 0) {
      throw new WizerException.InvalidModule(
          String.format("unknown binary version 0x%04x (layer %d)", version, layer), 4);
    }
    List<Section> sections = new ArrayList<>();
    WasmReader r = new WasmReader(bytes, 8, bytes.length);
    while (!r.atEnd()) {
      int start = r.pos();
      int id = r.u8();
      int length = r.u32AsInt("section size");
      int offset = r.pos();
      if (length > bytes.length - offset) {
        throw new WizerException.InvalidModule(
            "section " + id + " of " + length + " bytes runs past the end of the module", start);
      }
      r.skip(length, "section");
      sections.add(new Section(id, start, offset, length));
    }
    return sections;
  }

  /**
   * Parses and type-checks the whole module with Endive's validator. Custom sections are left
   * undecoded: they never make a module invalid, and the output copies them as they are.
   */
  private static WasmModule validate(byte[] bytes, int codeBytes) {
    try {
      WasmModule parallel = ParallelValidation.parse(bytes, codeBytes);
      if (parallel != null) {
        return parallel;
      }
      return Parser.builder()
          .withCustomParsers(Map.of())
          .build()
          .parse(() -> new ByteArrayInputStream(bytes));
    } catch (WizerException e) {
      throw e;
    } catch (RuntimeException | StackOverflowError | AssertionError e) {
      String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      throw new WizerException.InvalidModule("wasm validation failed: " + msg, e);
    }
  }

  /** True for a custom section named {@code name}, which some tools expect to come last. */
  static boolean isNameSection(byte[] bytes, Section s) {
    if (s.id() != CUSTOM) {
      return false;
    }
    try {
      return new WasmReader(bytes, s.offset(), s.end()).name().equals("name");
    } catch (WizerException e) {
      return false;
    }
  }
}
