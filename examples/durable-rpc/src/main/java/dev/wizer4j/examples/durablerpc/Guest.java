package dev.wizer4j.examples.durablerpc;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import run.endive.runtime.ExportFunction;
import run.endive.runtime.Instance;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.Export;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.FunctionType;
import run.endive.wasm.types.ValType;

/**
 * A live instance of the guest ({@code guest.wat}) with typed calls. The guest never calls the
 * host: every call returns at once, and {@link #WAITING} means "snapshot me, I only wait".
 */
final class Guest {
  static final int WAITING = 0;
  static final int DONE = 1;
  static final int REFUSED = -1;
  static final String INIT_FUNC = "wizer-initialize";

  /** The exports the host calls, with their types; checked before any call. */
  private static final Map<String, FunctionType> INTERFACE = new LinkedHashMap<>();

  static {
    INTERFACE.put(
        "start", FunctionType.of(List.of(ValType.I32, ValType.I32), List.of(ValType.I32)));
    INTERFACE.put(
        "on_response", FunctionType.of(List.of(ValType.I32, ValType.I64), List.of(ValType.I32)));
    INTERFACE.put("pending_request", FunctionType.of(List.of(), List.of(ValType.I32)));
    INTERFACE.put("result", FunctionType.of(List.of(), List.of(ValType.I64)));
    INTERFACE.put("task_id", FunctionType.of(List.of(), List.of(ValType.I32)));
  }

  private final Instance instance;
  private final String what;

  private Guest(Instance instance, String what) {
    this.instance = instance;
    this.what = what;
  }

  /**
   * Instantiates {@code module} (a snapshot starts with all of its state in place: there is no
   * start function, nothing to initialize) after checking that it has the guest's interface. {@code
   * what} names the module in error messages, for example its file.
   */
  static Guest instantiate(WasmModule module, String what) {
    checkInterface(module, what);
    Instance instance;
    try {
      instance = Instance.builder(module).build();
    } catch (RuntimeException e) {
      throw new HostException("cannot instantiate " + what + ": " + message(e), e);
    }
    return new Guest(instance, what);
  }

  Instance instance() {
    return instance;
  }

  /** Runs the guest's own initialization; only an uninitialized guest still exports it. */
  void initialize() {
    if (!exportsInit(instance.module())) {
      throw new HostException(what + " has no `" + INIT_FUNC + "` export to initialize it");
    }
    try {
      instance.export(INIT_FUNC).apply();
    } catch (RuntimeException | StackOverflowError e) {
      throw new HostException(
          "the guest in " + what + " trapped in `" + INIT_FUNC + "`: " + message(e), e);
    }
  }

  int start(int taskId, int n) {
    return (int) call("start", taskId, n);
  }

  int onResponse(int request, long value) {
    return (int) call("on_response", request, value);
  }

  /** The request the guest waits for, or -1 if it waits for nothing. */
  int pendingRequest() {
    return (int) call("pending_request");
  }

  long result() {
    return call("result");
  }

  int taskId() {
    return (int) call("task_id");
  }

  private long call(String name, long... args) {
    ExportFunction f = instance.export(name);
    try {
      return f.apply(args)[0];
    } catch (RuntimeException | StackOverflowError e) {
      throw new HostException(
          "the guest in " + what + " trapped in `" + name + "`: " + message(e), e);
    }
  }

  private static boolean exportsInit(WasmModule module) {
    var exports = module.exportSection();
    for (int i = 0; i < exports.exportCount(); i++) {
      Export e = exports.getExport(i);
      if (e.name().equals(INIT_FUNC) && e.exportType() == ExternalType.FUNCTION) {
        return true;
      }
    }
    return false;
  }

  private static void checkInterface(WasmModule module, String what) {
    var exports = module.exportSection();
    Map<String, Export> byName = new LinkedHashMap<>();
    for (int i = 0; i < exports.exportCount(); i++) {
      Export e = exports.getExport(i);
      byName.put(e.name(), e);
    }
    for (Map.Entry<String, FunctionType> want : INTERFACE.entrySet()) {
      Export e = byName.get(want.getKey());
      if (e == null || e.exportType() != ExternalType.FUNCTION) {
        throw new HostException(
            what
                + " is not a durable-rpc guest: it has no function export `"
                + want.getKey()
                + "`");
      }
      FunctionType actual = functionType(module, e.index());
      if (!want.getValue().equals(actual)) {
        throw new HostException(
            what
                + " is not a durable-rpc guest: `"
                + want.getKey()
                + "` has type "
                + actual
                + ", expected "
                + want.getValue());
      }
    }
  }

  private static FunctionType functionType(WasmModule module, int funcIndex) {
    int imported = 0;
    var imports = module.importSection();
    for (int i = 0; i < imports.importCount(); i++) {
      if (imports.getImport(i).importType() == ExternalType.FUNCTION) {
        imported++;
      }
    }
    if (funcIndex < imported) {
      return null; // the guest has no imports; an imported export is not ours
    }
    return module
        .typeSection()
        .getType(module.functionSection().getFunctionType(funcIndex - imported));
  }

  static String message(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m.strip().replace('\n', ' ');
  }
}
