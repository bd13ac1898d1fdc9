package dev.wizer4j.endive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.testing.Wat;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import run.endive.runtime.ExportFunction;
import run.endive.runtime.HostFunction;
import run.endive.runtime.ImportFunction;
import run.endive.runtime.ImportValues;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.FunctionImport;

/** Runs modules before and after pre-initialization and compares everything observable. */
final class Harness {
  private Harness() {}

  static byte[] wat(String text, String... wat2wasmFlags) {
    return Wat.compile(text, wat2wasmFlags);
  }

  /**
   * Wizens {@code wasm} twice (the outputs must be byte-identical), validates the output with
   * Endive and with wabt, and checks it against a normal run of the original: same globals and
   * memories after init, same results from {@code probes} (exports of type [] -> [t*]) called in
   * order on both, and same state afterwards.
   */
  static byte[] assertWizened(Wizer wizer, byte[] wasm, String... probes) {
    byte[] out = wizer.run(wasm);
    assertArrayEquals(out, wizer.run(wasm), "same input and options must give the same bytes");
    assertValid(out);
    Instance before = initializedOriginal(wasm, wizer.initFunc());
    Instance after = instantiate(out);
    assertSameState(before, after);
    for (String probe : probes) {
      assertEquals(
          Arrays.toString(call(before, probe)),
          Arrays.toString(call(after, probe)),
          "result of " + probe);
      assertSameState(before, after);
    }
    return out;
  }

  static byte[] assertWizened(String text, String... probes) {
    return assertWizened(Wizer.builder().build(), wat(text), probes);
  }

  /** The export names of {@code wasm}, in order. */
  static List<String> exports(byte[] wasm) {
    var section = Parser.parse(wasm).exportSection();
    List<String> names = new ArrayList<>();
    for (int i = 0; i < section.exportCount(); i++) {
      names.add(section.getExport(i).name());
    }
    return names;
  }

  static void assertValid(byte[] wasm) {
    Parser.parse(wasm);
    assertNull(Wat.validate(wasm), "wasm-validate rejects the output");
  }

  static WizerException assertRejected(String messagePart, Wizer wizer, byte[] wasm) {
    WizerException e = assertThrows(WizerException.class, () -> wizer.run(wasm));
    assertTrue(
        e.getMessage().contains(messagePart),
        () ->
            "expected a message containing «" + messagePart + "» but got «" + e.getMessage() + "»");
    return e;
  }

  static WizerException assertRejected(String messagePart, String text) {
    return assertRejected(messagePart, Wizer.builder().build(), wat(text));
  }

  /**
   * Calls {@code export}, or {@code name:arg,arg} with i32/i64 arguments; traps become a marker.
   */
  static long[] call(Instance instance, String export) {
    String name = export;
    long[] args = new long[0];
    int colon = export.indexOf(':');
    if (colon >= 0) {
      name = export.substring(0, colon);
      args =
          Arrays.stream(export.substring(colon + 1).split(","))
              .mapToLong(Long::parseLong)
              .toArray();
    }
    ExportFunction f = instance.export(name);
    try {
      long[] r = f.apply(args);
      return r == null ? new long[0] : r;
    } catch (RuntimeException e) {
      return new long[] {Long.MIN_VALUE, e.getClass().getName().hashCode()};
    }
  }

  /** Instantiates without running {@code _start}; imports are stubs that trap. */
  static Instance instantiate(byte[] wasm) {
    WasmModule m = Parser.parse(wasm);
    return Instance.builder(m).withImportValues(trappingImports(m)).withStart(false).build();
  }

  /** The reference: the original module, instantiated and initialized the way Wizer does. */
  static Instance initializedOriginal(byte[] wasm, String initFunc) {
    Instance i = instantiate(wasm);
    boolean hasInitialize = hasFunctionExport(i, "_initialize");
    if (hasInitialize) {
      i.export("_initialize").apply();
    }
    if (!(hasInitialize && initFunc.equals("_initialize"))) {
      i.export(initFunc).apply();
    }
    return i;
  }

  static boolean hasFunctionExport(Instance i, String name) {
    var ex = i.module().exportSection();
    for (int k = 0; k < ex.exportCount(); k++) {
      if (ex.getExport(k).name().equals(name)
          && ex.getExport(k).exportType() == ExternalType.FUNCTION) {
        return true;
      }
    }
    return false;
  }

  static ImportValues trappingImports(WasmModule m) {
    List<ImportFunction> fns = new ArrayList<>();
    var imports = m.importSection();
    for (int k = 0; k < imports.importCount(); k++) {
      var imp = imports.getImport(k);
      if (imp.importType() == ExternalType.FUNCTION) {
        var type = m.typeSection().getType(((FunctionImport) imp).typeIndex());
        fns.add(
            new HostFunction(
                imp.module(),
                imp.name(),
                type,
                (inst, args) -> {
                  throw new IllegalStateException("import called: " + imp.name());
                }));
      }
    }
    return ImportValues.builder().withFunctions(fns).build();
  }

  /** Every global (bits, v128 included) and every memory (size and bytes) must be equal. */
  static void assertSameState(Instance a, Instance b) {
    assertEquals(a.globalCount(), b.globalCount(), "global count");
    for (int g = 0; g < a.globalCount(); g++) {
      assertEquals(a.global(g).getValueLow(), b.global(g).getValueLow(), "global " + g);
      assertEquals(a.global(g).getValueHigh(), b.global(g).getValueHigh(), "global " + g + " high");
    }
    int memories = a.module().memorySection().map(s -> s.memoryCount()).orElse(0);
    assertEquals(
        memories, b.module().memorySection().map(s -> s.memoryCount()).orElse(0), "memories");
    for (int m = 0; m < memories; m++) {
      Memory ma = a.memory(m);
      Memory mb = b.memory(m);
      assertEquals(ma.pages(), mb.pages(), "pages of memory " + m);
      for (int p = 0; p < ma.pages(); p++) {
        byte[] pa = ma.readBytes(p * 65536, 65536);
        byte[] pb = mb.readBytes(p * 65536, 65536);
        int mismatch = Arrays.mismatch(pa, pb);
        assertEquals(-1, mismatch, "memory " + m + " differs at " + (p * 65536L + mismatch));
      }
    }
  }
}
