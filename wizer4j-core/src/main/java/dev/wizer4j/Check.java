package dev.wizer4j;

import dev.wizer4j.ModuleContext.Export;
import dev.wizer4j.ModuleContext.GlobalDef;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.AnnotatedInstruction;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.FunctionBody;
import run.endive.wasm.types.FunctionImport;
import run.endive.wasm.types.FunctionType;
import run.endive.wasm.types.Import;
import run.endive.wasm.types.OpCode;
import run.endive.wasm.types.ValType;

/**
 * What cannot be snapshotted. A snapshot records globals and memories only, so anything whose
 * effect would live elsewhere (tables, dropped segments, GC objects, imported state) is rejected up
 * front, with the instruction or import named.
 */
final class Check {
  private Check() {}

  /** {@code unsupported} holds entries like {@code "memory `env.mem`"}. */
  static void imports(List<String> unsupported) {
    if (!unsupported.isEmpty()) {
      String first = unsupported.get(0);
      String kind = first.substring(0, first.indexOf(' '));
      throw new WizerException.Unsupported(
          "imported "
              + (kind.equals("memory") ? "memories" : kind + "s")
              + " are not supported: "
              + first
              + " (a snapshot cannot capture state that lives outside the module)");
    }
  }

  /**
   * Rejects table and segment mutations and GC mutations anywhere in the code (whether or not the
   * init function reaches them: tables are not snapshotted, and dropped segments cannot be
   * observed). Also closes two gaps of the runtime's validator: every block must be closed, and a
   * {@code ref.func} in a body may only name a function in {@code declaredRefs} (the spec's C.refs:
   * functions named in exports, element segments or initializers). Returns the highest data segment
   * index named by a {@code memory.init}, or -1.
   */
  static int code(WasmModule module, int importedFunctions, BitSet declaredRefs) {
    FunctionBody[] bodies = module.codeSection().functionBodies();
    int maxMemoryInit = -1;
    for (int f = 0; f < bodies.length; f++) {
      // Every block must be closed and the body itself too: Endive's parser accepts a body
      // whose final `end` closes an inner block, so the balance is checked here.
      int depth = 1;
      for (AnnotatedInstruction ins : bodies[f].instructions()) {
        OpCode op = ins.opcode();
        if (op == OpCode.BLOCK || op == OpCode.LOOP || op == OpCode.IF || op == OpCode.TRY_TABLE) {
          depth++;
        } else if (op == OpCode.END) {
          depth--;
        }
        String name = unsupportedName(op);
        if (name != null) {
          throw new WizerException.Unsupported(
              String.format(
                  "unsupported `%s` instruction in function %d (at offset 0x%x): %s",
                  name, importedFunctions + f, ins.address(), reason(op)));
        }
        if (op == OpCode.REF_FUNC && !declared(declaredRefs, ins.operand(0))) {
          throw new WizerException.InvalidModule(
              String.format(
                  "wasm validation failed: undeclared function reference: `ref.func %d` in"
                      + " function %d names a function that no export, element segment or"
                      + " initializer declares",
                  ins.operand(0), importedFunctions + f),
              ins.address());
        }
        if (op == OpCode.MEMORY_INIT) {
          maxMemoryInit = (int) Math.max(maxMemoryInit, ins.operand(0));
        }
      }
      if (depth != 0) {
        throw new WizerException.InvalidModule(
            "wasm validation failed: the body of function "
                + (importedFunctions + f)
                + " does not end with the `end` of the function",
            -1);
      }
    }
    return maxMemoryInit;
  }

  private static boolean declared(BitSet declaredRefs, long function) {
    return function >= 0 && function <= Integer.MAX_VALUE && declaredRefs.get((int) function);
  }

  private static String unsupportedName(OpCode op) {
    return switch (op) {
      case TABLE_COPY -> "table.copy";
      case TABLE_INIT -> "table.init";
      case TABLE_SET -> "table.set";
      case TABLE_GROW -> "table.grow";
      case TABLE_FILL -> "table.fill";
      case ELEM_DROP -> "elem.drop";
      case DATA_DROP -> "data.drop";
      case STRUCT_SET -> "struct.set";
      case ARRAY_SET -> "array.set";
      case ARRAY_FILL -> "array.fill";
      case ARRAY_COPY -> "array.copy";
      case ARRAY_INIT_DATA -> "array.init_data";
      case ARRAY_INIT_ELEM -> "array.init_elem";
      default -> null;
    };
  }

  private static String reason(OpCode op) {
    return switch (op) {
      case ELEM_DROP, DATA_DROP -> "which segments were dropped cannot be snapshotted";
      case STRUCT_SET, ARRAY_SET, ARRAY_FILL, ARRAY_COPY, ARRAY_INIT_DATA, ARRAY_INIT_ELEM ->
          "GC objects cannot be snapshotted";
      default -> "table contents cannot be snapshotted";
    };
  }

  static void globals(List<GlobalDef> globals) {
    for (GlobalDef g : globals) {
      if (g.mutable() && g.type() == null) {
        throw new WizerException.Unsupported(
            "unsupported mutable global containing a reference type: global "
                + g.index()
                + " (references cannot be snapshotted)");
      }
    }
  }

  /**
   * An instrumented input must carry exactly the canonical instrumentation: each defined mutable
   * global exported as {@code __wizer_global_<index>}, each defined memory as {@code
   * __wizer_memory_<index>}, and no other {@code __wizer_*} export.
   */
  static void canonicalInstrumentation(List<Export> instrumentation, ModuleContext cx) {
    Map<String, Export> expected = new TreeMap<>();
    for (ModuleContext.InstrumentedGlobal g : cx.instrumentedGlobals) {
      expected.put(g.exportName(), new Export(g.exportName(), Wasm.KIND_GLOBAL, g.def().index()));
    }
    for (ModuleContext.InstrumentedMemory m : cx.instrumentedMemories) {
      expected.put(m.exportName(), new Export(m.exportName(), Wasm.KIND_MEMORY, m.def().index()));
    }
    Map<String, Export> found = new HashMap<>();
    for (Export e : instrumentation) {
      Export want = expected.get(e.name());
      if (want == null) {
        throw new WizerException.Unsupported(
            "instrumented input has a non-canonical export "
                + Names.quote(e.name())
                + " ("
                + Wasm.kindName(e.kind())
                + " "
                + e.index()
                + "): only `__wizer_global_<i>` for each defined mutable global i and"
                + " `__wizer_memory_<j>` for each defined memory j are allowed");
      }
      if (want.kind() != e.kind() || want.index() != e.index()) {
        throw new WizerException.Unsupported(
            "instrumented input has a non-canonical export "
                + Names.quote(e.name())
                + ": it points at "
                + Wasm.kindName(e.kind())
                + " "
                + e.index()
                + ", expected "
                + Wasm.kindName(want.kind())
                + " "
                + want.index());
      }
      found.put(e.name(), e);
    }
    for (String name : expected.keySet()) {
      if (!found.containsKey(name)) {
        throw new WizerException.Unsupported(
            "instrumented input is missing the instrumentation export " + Names.quote(name));
      }
    }
  }

  /** The init function must be an exported function of type {@code [] -> []}. */
  static void initFunc(ModuleContext cx, String name) {
    ModuleContext.Export initialize = cx.findExport("_initialize");
    if (initialize != null && initialize.kind() == Wasm.KIND_FUNC) {
      FunctionType type = functionType(cx.module, initialize.index());
      if (!type.params().isEmpty() || !type.returns().isEmpty()) {
        throw new WizerException.InitFailed(
            "the Wasm module's `_initialize` function export does not have type `[] -> []` but `"
                + show(type)
                + "`");
      }
    }
    ModuleContext.Export e = cx.findExport(name);
    if (e == null) {
      throw new WizerException.InitFailed(
          "the Wasm module does not have a " + Names.quote(name) + " export");
    }
    if (e.kind() != Wasm.KIND_FUNC) {
      throw new WizerException.InitFailed(
          "the Wasm module's "
              + Names.quote(name)
              + " export is not a function but a "
              + Wasm.kindName(e.kind()));
    }
    FunctionType type = functionType(cx.module, e.index());
    if (!type.params().isEmpty() || !type.returns().isEmpty()) {
      throw new WizerException.InitFailed(
          "the Wasm module's "
              + Names.quote(name)
              + " function export does not have type `[] -> []` but `"
              + show(type)
              + "`");
    }
  }

  static FunctionType functionType(WasmModule module, int funcIndex) {
    int imported = module.importSection().count(ExternalType.FUNCTION);
    int typeIndex;
    if (funcIndex < imported) {
      int seen = 0;
      typeIndex = -1;
      for (int i = 0; i < module.importSection().importCount(); i++) {
        Import imp = module.importSection().getImport(i);
        if (imp.importType() == ExternalType.FUNCTION) {
          if (seen++ == funcIndex) {
            typeIndex = ((FunctionImport) imp).typeIndex();
            break;
          }
        }
      }
    } else {
      typeIndex = module.functionSection().getFunctionType(funcIndex - imported);
    }
    return module.typeSection().getType(typeIndex);
  }

  /** A function type the way the text format writes it: {@code [i32 i64] -> [f32]}. */
  static String show(FunctionType type) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < type.params().size(); i++) {
      b.append(i == 0 ? "" : " ").append(valType(type.params().get(i)));
    }
    b.append("] -> [");
    for (int i = 0; i < type.returns().size(); i++) {
      b.append(i == 0 ? "" : " ").append(valType(type.returns().get(i)));
    }
    return b.append(']').toString();
  }

  /** A value type as the text format writes it: {@code i32}, {@code funcref}, {@code (ref 3)}. */
  static String valType(ValType t) {
    boolean nullable = t.opcode() == ValType.ID.RefNull;
    if (!nullable && t.opcode() != ValType.ID.Ref) {
      return ValType.ID.toName(t.opcode()).toLowerCase(Locale.ROOT);
    }
    String heap = heapType(t.typeIdx());
    if (nullable && t.typeIdx() < 0) {
      return heap + "ref"; // funcref, externref, anyref, ...
    }
    return "(ref " + (nullable ? "null " : "") + heap + ")";
  }

  /** Abstract heap types by their (negative) code, a defined type by its index. */
  private static String heapType(int code) {
    return switch (code) {
      case -13 -> "nofunc";
      case -14 -> "noextern";
      case -15 -> "none";
      case -16 -> "func";
      case -17 -> "extern";
      case -18 -> "any";
      case -19 -> "eq";
      case -20 -> "i31";
      case -21 -> "struct";
      case -22 -> "array";
      case -23 -> "exn";
      default -> code >= 0 ? Integer.toString(code) : "heap type " + code;
    };
  }
}
