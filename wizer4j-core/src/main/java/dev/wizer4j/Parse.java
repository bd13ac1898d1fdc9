package dev.wizer4j;

import dev.wizer4j.ModuleContext.DataSegment;
import dev.wizer4j.ModuleContext.Export;
import dev.wizer4j.ModuleContext.GlobalDef;
import dev.wizer4j.ModuleContext.MemoryDef;
import dev.wizer4j.ModuleContext.Section;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;

/**
 * The parse pass: walks every section of the input with the one bounded reader ({@link
 * WasmReader}), decodes the few sections a later pass changes, validates the whole module (every
 * function body type-checked) and applies the rules of what can be snapshotted ({@link Check}).
 *
 * <p>The walk comes first and covers every section, including the ones only the runtime decodes:
 * the runtime's parser allocates from declared counts and lengths (a 64-byte module can declare
 * 2^30 parameters), so every count and length is checked against the bytes that remain before the
 * module is handed to it. Sections are recorded as views over the input; nothing else is kept, so
 * unchanged sections can later be copied as raw bytes.
 */
final class Parse {
  /** At most this many locals per function: the limit of wasmparser, and so of Wizer. */
  static final int MAX_FUNCTION_LOCALS = 50_000;

  /**
   * The runtime keeps one entry per declared local of every function, however few bytes declare
   * them (a 7-byte body declares 50,000). The locals of the whole module may number at most this
   * many plus {@link #LOCALS_PER_CODE_BYTE} per byte of code section: real modules declare far
   * fewer locals than they have code bytes, and within that budget the memory the locals take stays
   * in proportion to the input, like the memory the runtime's decoded instructions take.
   */
  static final long MODULE_LOCALS_BASE = 1_000_000;

  static final int LOCALS_PER_CODE_BYTE = 16;

  private Parse() {}

  /** What the structural walk found; the checks and the context are built from it. */
  static final class Module {
    final byte[] bytes;
    List<Section> sections;

    /** Per type index (subtypes counted one by one): whether it is a function type. */
    final BitSet functionTypes = new BitSet();

    int types;
    int importedFunctions;
    int importedTables;
    int importedMemories;
    int importedGlobals;
    int importedTags;
    int definedFunctions;
    int definedTables;
    int definedTags;
    String wizerImport;
    final List<String> unsupportedImports = new ArrayList<>();
    final List<MemoryDef> memories = new ArrayList<>();
    final List<GlobalDef> globals = new ArrayList<>();
    final List<Export> exports = new ArrayList<>();
    final List<Integer> exportOffsets = new ArrayList<>();
    final List<DataSegment> data = new ArrayList<>();

    /**
     * The function indices a {@code ref.func} in a function body may name (the spec's C.refs):
     * every function index that occurs outside function bodies and the start section, namely in
     * exports, element segments, and global, table and data offset initializers.
     */
    final BitSet declaredRefs = new BitSet();

    /** The first import or tag naming a type that is not a function type (checked later). */
    WizerException.InvalidModule badTypeUse;

    int codeBytes;
    long locals;

    Module(byte[] bytes) {
      this.bytes = bytes;
    }

    /**
     * Records a declared function reference. An index past the functions (invalid, which the
     * validator reports) is not recorded: it would make the set allocate for it.
     */
    void declare(long function) {
      if (function < (long) importedFunctions + definedFunctions) {
        declaredRefs.set((int) function);
      }
    }
  }

  static ModuleContext parse(byte[] bytes, boolean instrumented) {
    Module m = read(bytes);
    checkExportIndices(m);

    // The checks run in the order Wizer runs them, so that a module with several problems gets
    // the same first complaint from both tools: validation, then what cannot be snapshotted.
    WasmModule module = validate(bytes, m.codeBytes);
    if (m.badTypeUse != null) {
      throw m.badTypeUse;
    }
    Check.globals(m.globals);
    int maxMemoryInit = Check.code(module, m.importedFunctions, m.declaredRefs);
    if (m.wizerImport != null) {
      throw new WizerException.Unsupported(
          "input Wasm module already imports entities named with the `__wizer_*` prefix: "
              + m.wizerImport);
    }

    List<Export> exports = new ArrayList<>(m.exports.size());
    List<Export> instrumentation = new ArrayList<>();
    for (Export e : m.exports) {
      (e.name().startsWith(ModuleContext.WIZER_PREFIX) ? instrumentation : exports).add(e);
    }
    if (!instrumented && !instrumentation.isEmpty()) {
      throw new WizerException.Unsupported(
          "input Wasm module already exports entities named with the `__wizer_*` prefix: "
              + Names.quote(instrumentation.get(0).name())
              + "; if it was written with --keep-instrumentation, pass --instrumented"
              + " (API: parseInstrumented) to snapshot it again");
    }

    ModuleContext cx =
        new ModuleContext(
            bytes,
            m.sections,
            module,
            instrumented,
            m.globals,
            m.memories,
            exports,
            m.data,
            snapshotSegmentsStart(m.data, instrumented, maxMemoryInit));
    if (instrumented) {
      Check.canonicalInstrumentation(instrumentation, cx);
    }
    Check.imports(m.unsupportedImports);
    return cx;
  }

  /**
   * Segments that an earlier snapshot appended are the trailing run of active segments that no
   * {@code memory.init} can name. Replacing them (rather than keeping them as empty passive
   * segments) is what keeps a module from growing over repeated snapshots.
   */
  private static int snapshotSegmentsStart(
      List<DataSegment> data, boolean instrumented, int maxMemoryInit) {
    int start = data.size();
    if (instrumented) {
      while (start > 0 && start - 1 > maxMemoryInit && data.get(start - 1).active()) {
        start--;
      }
    }
    return start;
  }

  /**
   * Walks every section of {@code bytes} with bounds checked before any allocation, and records
   * what the later passes need. Throws {@link WizerException.InvalidModule} (with the offset) for
   * anything malformed that the walk meets; everything else is left to the validator.
   */
  static Module read(byte[] bytes) {
    Module m = new Module(bytes);
    m.sections = scanSections(bytes);
    for (Section s : m.sections) {
      WasmReader r = new WasmReader(bytes, s.offset(), s.end());
      switch (s.id()) {
        case Wasm.SECTION_CUSTOM -> readCustom(r);
        case Wasm.SECTION_TYPE -> readTypes(r, m);
        case Wasm.SECTION_IMPORT -> readImports(r, m);
        case Wasm.SECTION_FUNCTION -> readFunctions(r, m);
        case Wasm.SECTION_TABLE -> readTables(r, m);
        case Wasm.SECTION_MEMORY -> readMemories(r, m);
        case Wasm.SECTION_TAG -> readTags(r, m);
        case Wasm.SECTION_GLOBAL -> readGlobals(r, m);
        case Wasm.SECTION_EXPORT -> readExports(r, m);
        case Wasm.SECTION_START, Wasm.SECTION_DATA_COUNT -> r.u32();
        case Wasm.SECTION_ELEMENT -> readElements(r, m);
        case Wasm.SECTION_CODE -> readCode(r, m);
        case Wasm.SECTION_DATA -> readData(r, m);
        default -> throw new IllegalStateException("scanSections let section " + s.id() + " in");
      }
      if (s.id() != Wasm.SECTION_CUSTOM && !r.atEnd()) {
        throw new WizerException.InvalidModule(
            Wasm.sectionName(s.id())
                + " section has "
                + (r.limit() - r.pos())
                + " bytes left after its entries",
            r.pos());
      }
    }
    return m;
  }

  /**
   * Checks the header and records every section as a view; nothing inside them is decoded. Known
   * sections must come in the binary format's order, each at most once (the runtime's parser does
   * not check this for the tag section).
   */
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
    if (layer == Wasm.LAYER_COMPONENT) {
      throw new WizerException.Unsupported(
          "expected a core module, found a component; wizer4j pre-initializes core modules only");
    }
    if (version != 1 || layer != Wasm.LAYER_CORE) {
      throw new WizerException.InvalidModule(
          String.format("unknown binary version 0x%04x (layer %d)", version, layer), 4);
    }
    List<Section> sections = new ArrayList<>();
    WasmReader r = new WasmReader(bytes, 8, bytes.length);
    int lastRank = -1;
    int lastId = -1;
    while (!r.atEnd()) {
      int start = r.pos();
      int id = r.u8();
      int length = r.u32AsInt("section size");
      int offset = r.pos();
      if (length > bytes.length - offset) {
        throw new WizerException.InvalidModule(
            "section " + id + " of " + length + " bytes runs past the end of the module", start);
      }
      if (id != Wasm.SECTION_CUSTOM) {
        int rank = Wasm.sectionRank(id);
        if (rank < 0) {
          throw new WizerException.InvalidModule("unknown section id " + id, start);
        }
        if (rank == lastRank) {
          throw new WizerException.InvalidModule(
              "duplicate " + Wasm.sectionName(id) + " section", start);
        }
        if (rank < lastRank) {
          throw new WizerException.InvalidModule(
              Wasm.sectionName(id)
                  + " section out of order: it must come before the "
                  + Wasm.sectionName(lastId)
                  + " section",
              start);
        }
        lastRank = rank;
        lastId = id;
      }
      r.skip(length, "section");
      sections.add(new Section(id, start, offset, length));
    }
    return sections;
  }

  /** A custom section: its name must fit in it; the rest is copied and never decoded. */
  private static void readCustom(WasmReader r) {
    r.skip(r.length("custom section name length"), "custom section name");
  }

  /** Function, struct and array types, in recursion groups and subtypes (GC proposal). */
  private static void readTypes(WasmReader r, Module m) {
    int n = r.count("type count", 2);
    for (int i = 0; i < n; i++) {
      int at = r.pos();
      int form = r.u8();
      if (form == Wasm.FORM_REC) {
        int subtypes = r.count("recursion group size", 2);
        for (int k = 0; k < subtypes; k++) {
          readSubType(r, m, r.pos(), r.u8());
        }
      } else {
        readSubType(r, m, at, form);
      }
    }
  }

  private static void readSubType(WasmReader r, Module m, int at, int form) {
    if (form == Wasm.FORM_SUB || form == Wasm.FORM_SUB_FINAL) {
      int supertypes = r.count("supertype count", 1);
      for (int k = 0; k < supertypes; k++) {
        r.u32();
      }
      at = r.pos();
      form = r.u8();
    }
    switch (form) {
      case Wasm.FORM_FUNC -> {
        int params = r.count("parameter count", 1);
        for (int k = 0; k < params; k++) {
          r.valType();
        }
        int results = r.count("result count", 1);
        for (int k = 0; k < results; k++) {
          r.valType();
        }
        m.functionTypes.set(m.types);
      }
      case Wasm.FORM_STRUCT -> {
        int fields = r.count("struct field count", 2);
        for (int k = 0; k < fields; k++) {
          readFieldType(r);
        }
      }
      case Wasm.FORM_ARRAY -> readFieldType(r);
      default ->
          throw new WizerException.InvalidModule(
              String.format("malformed type: unknown form 0x%02x", form), at);
    }
    m.types++;
  }

  private static void readFieldType(WasmReader r) {
    int at = r.pos();
    int t = r.u8();
    if (t != Wasm.PACKED_I8 && t != Wasm.PACKED_I16) {
      r.reset(at);
      r.valType();
    }
    r.u8(); // mutability
  }

  private static void readImports(WasmReader r, Module m) {
    int n = r.count("import count", 4);
    for (int i = 0; i < n; i++) {
      int at = r.pos();
      String module = r.name();
      String name = r.name();
      int kind = r.u8();
      String quoted = Names.quote(module + "." + name);
      if (m.wizerImport == null
          && (module.startsWith(ModuleContext.WIZER_PREFIX)
              || name.startsWith(ModuleContext.WIZER_PREFIX))) {
        m.wizerImport = quoted;
      }
      switch (kind) {
        case Wasm.KIND_FUNC -> {
          useFunctionType(r, m, "imported function " + quoted);
          m.importedFunctions++;
        }
        case Wasm.KIND_TABLE -> {
          r.valType();
          skipLimits(r);
          m.importedTables++;
          m.unsupportedImports.add("table " + quoted);
        }
        case Wasm.KIND_MEMORY -> {
          skipLimits(r);
          m.importedMemories++;
          m.unsupportedImports.add("memory " + quoted);
        }
        case Wasm.KIND_GLOBAL -> {
          r.valType();
          r.u8();
          m.importedGlobals++;
          m.unsupportedImports.add("global " + quoted);
        }
        case Wasm.KIND_TAG -> {
          r.u8(); // attribute
          useFunctionType(r, m, "imported tag " + quoted);
          m.importedTags++;
        }
        default -> throw new WizerException.InvalidModule("unknown import kind " + kind, at);
      }
    }
  }

  /**
   * Reads a type index that must name a function type. The runtime's validator does not check this
   * for imports and tags (an out-of-range index fails later, inside the runtime), so the first
   * offender is remembered and reported after validation.
   */
  private static void useFunctionType(WasmReader r, Module m, String what) {
    int at = r.pos();
    long index = r.u32();
    if (m.badTypeUse == null && (index >= m.types || !m.functionTypes.get((int) index))) {
      m.badTypeUse =
          new WizerException.InvalidModule(
              "wasm validation failed: "
                  + what
                  + (index >= m.types
                      ? " uses type " + index + ", but the module has " + m.types + " types"
                      : " uses type " + index + ", which is not a function type"),
              at);
    }
  }

  private static void readFunctions(WasmReader r, Module m) {
    m.definedFunctions = r.count("function count", 1);
    for (int i = 0; i < m.definedFunctions; i++) {
      r.u32();
    }
  }

  private static void readTables(WasmReader r, Module m) {
    m.definedTables = r.count("table count", 2);
    for (int i = 0; i < m.definedTables; i++) {
      int at = r.pos();
      boolean withInit = r.u8() == Wasm.TABLE_WITH_INIT;
      if (withInit && r.u8() != 0) {
        throw new WizerException.InvalidModule("malformed table with initializer", at);
      }
      if (!withInit) {
        r.reset(at);
      }
      r.valType();
      skipLimits(r);
      if (withInit) {
        r.skipConstExpr(m::declare);
      }
    }
  }

  private static void readMemories(WasmReader r, Module m) {
    int n = r.count("memory count", 2);
    for (int i = 0; i < n; i++) {
      int at = r.pos();
      int flags = (int) r.u32();
      boolean is64 = (flags & Wasm.LIMITS_64) != 0;
      long min = is64 ? r.u64() : r.u32();
      boolean hasMax = (flags & Wasm.LIMITS_HAS_MAX) != 0;
      long max = hasMax ? (is64 ? r.u64() : r.u32()) : -1;
      boolean customPageSize = (flags & Wasm.LIMITS_PAGE_SIZE) != 0;
      if (customPageSize) {
        r.u32(); // log2 of the page size
      }
      int index = m.importedMemories + i;
      if (is64) {
        throw new WizerException.Unsupported(
            String.format(
                "memory %d is a 64-bit memory (memory64), which wizer4j does not support"
                    + " (at offset 0x%x)",
                index, at));
      }
      if (customPageSize) {
        throw new WizerException.Unsupported(
            String.format(
                "memory %d has a custom page size (custom-page-sizes), which wizer4j does"
                    + " not support (at offset 0x%x)",
                index, at));
      }
      if ((flags & ~(Wasm.LIMITS_HAS_MAX | Wasm.LIMITS_SHARED)) != 0) {
        throw new WizerException.InvalidModule("unknown memory limits flags " + flags, at);
      }
      m.memories.add(new MemoryDef(index, flags, max));
    }
  }

  private static void readTags(WasmReader r, Module m) {
    m.definedTags = r.count("tag count", 2);
    for (int i = 0; i < m.definedTags; i++) {
      r.u8(); // attribute
      useFunctionType(r, m, "tag " + (m.importedTags + i));
    }
  }

  private static void readGlobals(WasmReader r, Module m) {
    int n = r.count("global count", 3);
    for (int i = 0; i < n; i++) {
      int typeStart = r.pos();
      int code = r.valType();
      int mut = r.u8();
      int exprStart = r.pos();
      r.skipConstExpr(m::declare);
      m.globals.add(
          new GlobalDef(
              m.importedGlobals + i,
              GlobalValue.Type.fromCode(code),
              (mut & Wasm.GLOBAL_MUTABLE) != 0,
              typeStart,
              exprStart,
              r.pos()));
    }
  }

  private static void readExports(WasmReader r, Module m) {
    int n = r.count("export count", 3);
    for (int i = 0; i < n; i++) {
      int at = r.pos();
      String name = r.name();
      int kind = r.u8();
      if (kind > Wasm.KIND_TAG) {
        throw new WizerException.InvalidModule(
            "export " + Names.quote(name) + " has unknown kind " + kind, at);
      }
      int index = r.u32AsInt("export index");
      if (kind == Wasm.KIND_FUNC) {
        m.declare(index);
      }
      m.exports.add(new Export(name, kind, index));
      m.exportOffsets.add(at);
    }
  }

  /**
   * Walks the element segments, so that unknown segment flags (which Endive's parser lets through,
   * and which the output would copy) are rejected with their offset, and records the functions they
   * declare.
   */
  private static void readElements(WasmReader r, Module m) {
    int n = r.count("element segment count", 2);
    for (int i = 0; i < n; i++) {
      int at = r.pos();
      long flags = r.u32();
      if (flags > Wasm.ELEM_FLAGS_MAX) {
        throw new WizerException.InvalidModule("unknown element segment flags " + flags, at);
      }
      boolean notActive = (flags & Wasm.ELEM_NOT_ACTIVE) != 0;
      boolean tableOrDeclarative = (flags & Wasm.ELEM_TABLE_OR_DECLARATIVE) != 0;
      boolean expressions = (flags & Wasm.ELEM_EXPRESSIONS) != 0;
      if (!notActive) {
        if (tableOrDeclarative) {
          r.u32();
        }
        r.skipConstExpr(m::declare);
      }
      if (notActive || tableOrDeclarative) {
        if (expressions) {
          r.valType();
        } else if (r.u8() != Wasm.ELEMKIND_FUNCREF) {
          throw new WizerException.InvalidModule("unknown element kind", r.pos() - 1);
        }
      }
      int items = r.count("element count", 1);
      for (int k = 0; k < items; k++) {
        if (expressions) {
          r.skipConstExpr(m::declare);
        } else {
          m.declare(r.u32());
        }
      }
    }
  }

  /**
   * The code section's function headers: each body must fit in the section, and its locals are
   * bounded ({@link #MAX_FUNCTION_LOCALS} per function, {@link #MODULE_LOCALS_BASE} plus {@link
   * #LOCALS_PER_CODE_BYTE} per code byte in all). Instructions are left to the validator: the
   * runtime decodes them one by one, in memory proportional to their bytes.
   */
  private static void readCode(WasmReader r, Module m) {
    m.codeBytes = r.limit() - r.pos();
    long moduleBudget = MODULE_LOCALS_BASE + (long) LOCALS_PER_CODE_BYTE * m.codeBytes;
    int n = r.count("function body count", 2);
    for (int i = 0; i < n; i++) {
      int size = r.length("function body size");
      WasmReader body = r.slice(size);
      int groups = body.count("local declaration count", 2);
      long locals = 0;
      for (int g = 0; g < groups; g++) {
        int at = body.pos();
        locals += body.u32();
        body.valType();
        if (locals > MAX_FUNCTION_LOCALS) {
          throw new WizerException.InvalidModule(
              "function "
                  + (m.importedFunctions + i)
                  + " declares more than "
                  + MAX_FUNCTION_LOCALS
                  + " locals",
              at);
        }
      }
      m.locals += locals;
      if (m.locals > moduleBudget) {
        throw new WizerException.InvalidModule(
            String.format(
                "the functions up to function %d declare %d locals, more than the %d allowed for"
                    + " a code section of %d bytes",
                m.importedFunctions + i, m.locals, moduleBudget, m.codeBytes),
            body.pos());
      }
      r.skip(size, "function body");
    }
  }

  private static void readData(WasmReader r, Module m) {
    int n = r.count("data segment count", 2);
    for (int i = 0; i < n; i++) {
      int start = r.pos();
      long flags = r.u32();
      int memory = 0;
      boolean active;
      if (flags == Wasm.DATA_ACTIVE) {
        active = true;
        r.skipConstExpr(m::declare);
      } else if (flags == Wasm.DATA_PASSIVE) {
        active = false;
      } else if (flags == Wasm.DATA_ACTIVE_MEMORY) {
        active = true;
        memory = r.u32AsInt("memory index");
        r.skipConstExpr(m::declare);
      } else {
        throw new WizerException.InvalidModule("unknown data segment flags " + flags, start);
      }
      r.skip(r.length("data segment length"), "data segment");
      m.data.add(new DataSegment(active, memory, start, r.pos()));
    }
  }

  /** Skips limits and returns their minimum. */
  private static long skipLimits(WasmReader r) {
    int flags = (int) r.u32();
    boolean is64 = (flags & Wasm.LIMITS_64) != 0;
    long min = is64 ? r.u64() : r.u32();
    if ((flags & Wasm.LIMITS_HAS_MAX) != 0) {
      if (is64) {
        r.u64();
      } else {
        r.u32();
      }
    }
    if ((flags & Wasm.LIMITS_PAGE_SIZE) != 0) {
      r.u32();
    }
    return min;
  }

  /**
   * Endive's validator does not bound export indices; an export past the end of its index space
   * would otherwise surface as a confusing failure at instantiation, or be copied into an invalid
   * output.
   */
  private static void checkExportIndices(Module m) {
    int[] counts = {
      m.importedFunctions + m.definedFunctions,
      m.importedTables + m.definedTables,
      m.importedMemories + m.memories.size(),
      m.importedGlobals + m.globals.size(),
      m.importedTags + m.definedTags
    };
    for (int i = 0; i < m.exports.size(); i++) {
      Export e = m.exports.get(i);
      if (e.index() >= counts[e.kind()]) {
        throw new WizerException.InvalidModule(
            "export "
                + Names.quote(e.name())
                + " refers to "
                + Wasm.kindName(e.kind())
                + " "
                + e.index()
                + ", but the module has "
                + counts[e.kind()],
            m.exportOffsets.get(i));
      }
    }
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
      throw new WizerException.InvalidModule("wasm validation failed: " + describe(e), e);
    }
  }

  private static String describe(Throwable e) {
    if (e instanceof StackOverflowError) {
      return "nesting too deep for the validator";
    }
    return Names.message(e, "the runtime's parser failed on malformed input");
  }

  /** True for a custom section named {@code name}, which some tools expect to come last. */
  static boolean isNameSection(byte[] bytes, Section s) {
    if (s.id() != Wasm.SECTION_CUSTOM) {
      return false;
    }
    try {
      return new WasmReader(bytes, s.offset(), s.end()).name().equals("name");
    } catch (WizerException e) {
      return false;
    }
  }
}
