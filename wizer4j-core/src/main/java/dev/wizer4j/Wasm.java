package dev.wizer4j;

/**
 * Constants of the WebAssembly binary format (core spec, chapter 5, with the exception-handling,
 * GC, memory64 and custom-page-sizes additions), named once for every pass.
 */
final class Wasm {
  private Wasm() {}

  // Section ids (§5.5.2).
  static final int SECTION_CUSTOM = 0;
  static final int SECTION_TYPE = 1;
  static final int SECTION_IMPORT = 2;
  static final int SECTION_FUNCTION = 3;
  static final int SECTION_TABLE = 4;
  static final int SECTION_MEMORY = 5;
  static final int SECTION_GLOBAL = 6;
  static final int SECTION_EXPORT = 7;
  static final int SECTION_START = 8;
  static final int SECTION_ELEMENT = 9;
  static final int SECTION_CODE = 10;
  static final int SECTION_DATA = 11;
  static final int SECTION_DATA_COUNT = 12;
  static final int SECTION_TAG = 13;

  /**
   * The order non-custom sections must appear in, each at most once (§5.5.16; the tag section goes
   * between memory and global, as the exception-handling proposal places it).
   */
  private static final int[] SECTION_ORDER = {
    SECTION_TYPE,
    SECTION_IMPORT,
    SECTION_FUNCTION,
    SECTION_TABLE,
    SECTION_MEMORY,
    SECTION_TAG,
    SECTION_GLOBAL,
    SECTION_EXPORT,
    SECTION_START,
    SECTION_ELEMENT,
    SECTION_DATA_COUNT,
    SECTION_CODE,
    SECTION_DATA
  };

  /** Position of a non-custom section id in {@link #SECTION_ORDER}, or -1 for an unknown id. */
  static int sectionRank(int id) {
    for (int i = 0; i < SECTION_ORDER.length; i++) {
      if (SECTION_ORDER[i] == id) {
        return i;
      }
    }
    return -1;
  }

  static String sectionName(int id) {
    return switch (id) {
      case SECTION_CUSTOM -> "custom";
      case SECTION_TYPE -> "type";
      case SECTION_IMPORT -> "import";
      case SECTION_FUNCTION -> "function";
      case SECTION_TABLE -> "table";
      case SECTION_MEMORY -> "memory";
      case SECTION_GLOBAL -> "global";
      case SECTION_EXPORT -> "export";
      case SECTION_START -> "start";
      case SECTION_ELEMENT -> "element";
      case SECTION_CODE -> "code";
      case SECTION_DATA -> "data";
      case SECTION_DATA_COUNT -> "data count";
      case SECTION_TAG -> "tag";
      default -> "unknown (id " + id + ")";
    };
  }

  /** The layer field of the header: 0 for a core module, 1 for a component. */
  static final int LAYER_CORE = 0;

  static final int LAYER_COMPONENT = 1;

  /** The mutability flag of a global type (§5.3.10). */
  static final int GLOBAL_MUTABLE = 0x01;

  // External kinds of imports and exports (§5.5.5).
  static final int KIND_FUNC = 0;
  static final int KIND_TABLE = 1;
  static final int KIND_MEMORY = 2;
  static final int KIND_GLOBAL = 3;
  static final int KIND_TAG = 4;

  static String kindName(int kind) {
    return switch (kind) {
      case KIND_FUNC -> "function";
      case KIND_TABLE -> "table";
      case KIND_MEMORY -> "memory";
      case KIND_GLOBAL -> "global";
      case KIND_TAG -> "tag";
      default -> "kind " + kind;
    };
  }

  // Flag bits of limits (§5.3.7, memory64, threads, custom-page-sizes).
  static final int LIMITS_HAS_MAX = 0x01;
  static final int LIMITS_SHARED = 0x02;
  static final int LIMITS_64 = 0x04;
  static final int LIMITS_PAGE_SIZE = 0x08;

  // Data segment flags (§5.5.14).
  static final int DATA_ACTIVE = 0;
  static final int DATA_PASSIVE = 1;
  static final int DATA_ACTIVE_MEMORY = 2;

  // Element segment flag bits (§5.5.12).
  static final int ELEM_NOT_ACTIVE = 0x01;
  static final int ELEM_TABLE_OR_DECLARATIVE = 0x02;
  static final int ELEM_EXPRESSIONS = 0x04;
  static final int ELEM_FLAGS_MAX = 7;
  static final int ELEMKIND_FUNCREF = 0x00;

  // Type constructors (§5.3).
  static final int TYPE_REF_NULL = 0x63;
  static final int TYPE_REF = 0x64;
  static final int FORM_FUNC = 0x60;
  static final int FORM_STRUCT = 0x5f;
  static final int FORM_ARRAY = 0x5e;
  static final int FORM_SUB = 0x50;
  static final int FORM_SUB_FINAL = 0x4f;
  static final int FORM_REC = 0x4e;
  static final int PACKED_I8 = 0x78;
  static final int PACKED_I16 = 0x77;

  /** A table type preceded by this byte and 0x00 carries an init expression (§5.5.6). */
  static final int TABLE_WITH_INIT = 0x40;

  // Opcodes of constant expressions (§5.4).
  static final int OP_END = 0x0b;
  static final int OP_GLOBAL_GET = 0x23;
  static final int OP_I32_CONST = 0x41;
  static final int OP_I64_CONST = 0x42;
  static final int OP_F32_CONST = 0x43;
  static final int OP_F64_CONST = 0x44;
  static final int OP_I32_ADD = 0x6a;
  static final int OP_I32_SUB = 0x6b;
  static final int OP_I32_MUL = 0x6c;
  static final int OP_I64_ADD = 0x7c;
  static final int OP_I64_SUB = 0x7d;
  static final int OP_I64_MUL = 0x7e;
  static final int OP_REF_NULL = 0xd0;
  static final int OP_REF_FUNC = 0xd2;
  static final int OP_PREFIX_GC = 0xfb;
  static final int OP_PREFIX_SIMD = 0xfd;

  // Sub-opcodes after OP_PREFIX_SIMD and OP_PREFIX_GC that constant expressions may use.
  static final int SIMD_V128_CONST = 12;
  static final int GC_STRUCT_NEW = 0;
  static final int GC_STRUCT_NEW_DEFAULT = 1;
  static final int GC_ARRAY_NEW = 6;
  static final int GC_ARRAY_NEW_DEFAULT = 7;
  static final int GC_ARRAY_NEW_FIXED = 8;
  static final int GC_ANY_CONVERT_EXTERN = 26;
  static final int GC_EXTERN_CONVERT_ANY = 27;
  static final int GC_REF_I31 = 28;
}
