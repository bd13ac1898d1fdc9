package dev.wizer4j.durable;

import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.durable.DurableException.InvalidState;
import dev.wizer4j.durable.DurableException.InvalidState.Reason;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.Export;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.FunctionType;
import run.endive.wasm.types.ValType;

/**
 * A guest module that has been verified once: its bytes hash to its name, it is valid (every
 * function body type-checked), its instrumentation is canonical, it has no start section and no
 * imports, and it exports the contract's functions. Verified guests are kept per hash for the life
 * of the process, so a resume never validates code that was validated before.
 */
final class Guest {
  /** Enough for many guests in one process; more are verified again when they come back. */
  private static final int CACHE_SIZE = 32;

  private static final Map<String, Guest> CACHE =
      new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Guest> eldest) {
          return size() > CACHE_SIZE;
        }
      };

  private static final FunctionType I64_RESULT = FunctionType.of(List.of(), List.of(ValType.I64));

  final String hash;
  final byte[] hashBytes;
  final ModuleContext cx;
  final WasmModule module;
  final int size;

  private Guest(String hash, ModuleContext cx, WasmModule module, int size) {
    this.hash = hash;
    this.hashBytes = HexFormat.of().parseHex(hash);
    this.cx = cx;
    this.module = module;
    this.size = size;
  }

  static String sha256(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /** The verified guest with this hash, from the cache, or verified now if not cached. */
  static Guest get(String hash, byte[] wasm, Wizer wizer, String where) {
    synchronized (CACHE) {
      Guest g = CACHE.get(hash);
      if (g != null) {
        return g;
      }
    }
    Guest g = verify(hash, wasm, wizer, where);
    synchronized (CACHE) {
      CACHE.put(hash, g);
    }
    return g;
  }

  static Guest cached(String hash) {
    synchronized (CACHE) {
      return CACHE.get(hash);
    }
  }

  private static Guest verify(String hash, byte[] wasm, Wizer wizer, String where) {
    String what = (where == null ? "" : where + ": ") + "guest " + hash.substring(0, 12);
    if (!sha256(wasm).equals(hash)) {
      throw new InvalidState(
          Reason.BAD_GUEST, what + ": the stored module does not hash to its name; it was altered");
    }
    ModuleContext cx;
    WasmModule module;
    try {
      // Validates every function body and checks that the instrumentation is canonical.
      cx = wizer.parseInstrumented(wasm);
      // Endive's own view, to instantiate; parsed once per guest like the validation above.
      module = Parser.parse(wasm);
    } catch (WizerException e) {
      throw new InvalidState(Reason.BAD_GUEST, what + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      throw new InvalidState(Reason.BAD_GUEST, what + ": invalid module: " + e.getMessage(), e);
    }
    if (module.startSection().isPresent()) {
      // A pre-initialized guest has none: its start function ran before the snapshot. One
      // here would run before every step, and even a read-only look at a task must run nothing.
      throw new InvalidState(
          Reason.BAD_GUEST, what + ": has a start section; a durable guest is pre-initialized");
    }
    if (module.importSection().importCount() > 0) {
      var imp = module.importSection().getImport(0);
      throw new InvalidState(
          Reason.BAD_GUEST,
          what
              + ": imports `"
              + imp.module()
              + "."
              + imp.name()
              + "`; a durable guest imports nothing");
    }
    for (String name : List.of(DurableHost.STATUS_EXPORT, DurableHost.RESULT_EXPORT)) {
      FunctionType type = exportedFunctionType(module, name);
      if (!I64_RESULT.equals(type)) {
        throw new InvalidState(
            Reason.BAD_GUEST,
            what
                + ": "
                + (type == null
                    ? "has no function export `" + name + "`"
                    : "`" + name + "` has type " + type)
                + "; the guest contract needs `"
                + name
                + ": [] -> [i64]`");
      }
    }
    return new Guest(hash, cx, module, wasm.length);
  }

  static FunctionType exportedFunctionType(WasmModule module, String name) {
    var exports = module.exportSection();
    for (int i = 0; i < exports.exportCount(); i++) {
      Export e = exports.getExport(i);
      if (e.name().equals(name) && e.exportType() == ExternalType.FUNCTION) {
        // No imports (checked above), so function index = defined function index.
        int f = e.index();
        if (f >= module.functionSection().functionCount()) {
          return null;
        }
        return module.typeSection().getType(module.functionSection().getFunctionType(f));
      }
    }
    return null;
  }
}
