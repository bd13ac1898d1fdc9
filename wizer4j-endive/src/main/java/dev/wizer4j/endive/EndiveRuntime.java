package dev.wizer4j.endive;

import dev.wizer4j.InstanceState;
import dev.wizer4j.ModuleContext;
import dev.wizer4j.Names;
import dev.wizer4j.WasmBounds;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.WizerRuntime;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import run.endive.compiler.MachineFactoryCompiler;
import run.endive.runtime.ExportFunction;
import run.endive.runtime.HostFunction;
import run.endive.runtime.ImportFunction;
import run.endive.runtime.ImportValues;
import run.endive.runtime.Instance;
import run.endive.runtime.Machine;
import run.endive.wasi.WasiExitException;
import run.endive.wasi.WasiOptions;
import run.endive.wasi.WasiPreview1;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmEngineException;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.ExternalType;
import run.endive.wasm.types.FunctionImport;
import run.endive.wasm.types.FunctionType;
import run.endive.wasm.types.Import;

/**
 * Runs initialization on Endive. Imports are linked, in this order, to WASI preview1 (when
 * allowed), to the exports of preloaded modules, and otherwise to stubs that trap with the import's
 * name when called.
 */
public final class EndiveRuntime implements WizerRuntime {
  static final String WASI_MODULE = "wasi_snapshot_preview1";

  @Override
  public InstanceState initialize(ModuleContext cx, Wizer config) {
    long t0 = System.nanoTime();
    WasiPreview1 wasi = config.allowWasi() ? wasi(config) : null;
    try {
      Map<String, Instance> preloads = new HashMap<>();
      for (Wizer.Preload p : config.preloads()) {
        WasmModule pm;
        try {
          WasmBounds.check(p.wasm()); // before Endive's parser allocates from declared sizes
          pm = Parser.parse(p.wasm());
        } catch (RuntimeException e) {
          throw new WizerException.InitFailed(
              "preload module " + Names.quote(p.name()) + " is invalid: " + describe(e), e);
        }
        try {
          preloads.put(
              p.name(),
              Instance.builder(pm)
                  .withImportValues(imports(pm, wasi, preloads))
                  .withStart(false)
                  .build());
        } catch (WasmEngineException e) {
          throw new WizerException.InitFailed(
              "failed to instantiate preload module " + Names.quote(p.name()) + ": " + describe(e),
              e);
        }
      }

      WasmModule module = cx.wasmModule();
      Instance.Builder builder =
          Instance.builder(module)
              .withImportValues(imports(module, wasi, preloads))
              .withStart(false);
      Function<Instance, Machine> machine = machine(module, config);
      if (machine != null) {
        builder.withMachineFactory(machine);
      }
      Instance instance;
      try {
        instance = builder.build();
      } catch (RuntimeException e) {
        throw failure(
            module.startSection().isPresent()
                ? "instantiating the module (its segments, then its start function)"
                : "instantiating the module",
            e,
            false);
      }
      t0 = lap(config, "instantiate", t0);

      ExportFunction initialize = exportedFunction(instance, "_initialize");
      if (initialize != null) {
        call(initialize, "_initialize");
        t0 = lap(config, "call _initialize", t0);
      }
      if (initialize == null || !config.initFunc().equals("_initialize")) {
        call(instance.export(config.initFunc()), config.initFunc());
        lap(config, "call " + config.initFunc(), t0);
      }
      return EndiveInstanceState.byIndex(instance);
    } finally {
      if (wasi != null) {
        wasi.close();
      }
    }
  }

  private static long lap(Wizer config, String what, long t0) {
    long now = System.nanoTime();
    config.log(String.format("%-40s %8.1f ms", what, (now - t0) / 1e6));
    return now;
  }

  private static Function<Instance, Machine> machine(WasmModule module, Wizer config) {
    // AUTO is the interpreter: it starts at once, while Endive's compiler spends 0.5 s or more
    // (growing with code size) before the first instruction runs. No static property of a
    // module tells how long its init will run, and racing both engines would make the output
    // depend on which finished first, so the choice is left to --engine compiler.
    if (config.engine() != Wizer.Engine.COMPILER) {
      return null;
    }
    try {
      return MachineFactoryCompiler.compile(module);
    } catch (RuntimeException e) {
      throw new WizerException.InitFailed(
          "the Endive compiler cannot compile this module: " + e.getMessage(), e);
    }
  }

  private static ExportFunction exportedFunction(Instance instance, String name) {
    var exports = instance.module().exportSection();
    for (int i = 0; i < exports.exportCount(); i++) {
      var e = exports.getExport(i);
      if (e.name().equals(name) && e.exportType() == ExternalType.FUNCTION) {
        return instance.export(name);
      }
    }
    return null;
  }

  private static void call(ExportFunction f, String name) {
    try {
      f.apply();
    } catch (RuntimeException | StackOverflowError e) {
      throw failure("the " + Names.quote(name) + " function", e, true);
    }
  }

  private static WizerException failure(String where, Throwable e, boolean call) {
    Throwable c = e;
    while (c != null) {
      if (c instanceof WizerException w) {
        return new WizerException.InitFailed(where + " failed: " + w.getMessage(), e);
      }
      if (c instanceof WasiExitException x) {
        return new WizerException.InitFailed(
            where + " called WASI proc_exit(" + x.exitCode() + ") during initialization", e);
      }
      c = c.getCause() == c ? null : c.getCause();
    }
    if (e instanceof StackOverflowError) {
      return new WizerException.InitFailed(where + " trapped: call stack exhausted", e);
    }
    String msg = e.getMessage() == null ? "" : e.getMessage();
    if (msg.startsWith("Machine doesn't recognize Instruction")) {
      return new WizerException.InitFailed(
          where
              + " executed an instruction the Endive interpreter does not support on this JVM ("
              + msg.substring("Machine doesn't recognize ".length())
              + "); SIMD needs Endive's SIMD interpreter, which requires Java 21 or later",
          e);
    }
    // A call traps; instantiating fails (a segment out of bounds, an import that cannot be
    // linked, or a trap in the start function, which Endive reports as the instance failing).
    String verb = call ? " trapped: " : " failed: ";
    return new WizerException.InitFailed(where + verb + describe(e), e);
  }

  static String describe(Throwable e) {
    return Names.message(
        e, "internal error of the Endive runtime (run with --stack-trace for details)");
  }

  private static WasiPreview1 wasi(Wizer config) {
    WasiOptions.Builder opts = WasiOptions.builder();
    if (config.inheritStdio()) {
      opts.inheritSystem();
    }
    if (config.inheritEnv()) {
      System.getenv().entrySet().stream()
          .sorted(Map.Entry.comparingByKey())
          .forEach(e -> opts.withEnvironment(e.getKey(), e.getValue()));
    }
    for (Wizer.Dir d : config.dirs()) {
      if (!Files.isDirectory(d.host())) {
        throw new WizerException.InitFailed(
            "directory "
                + Names.quote(d.host().toString())
                + " (for guest path "
                + Names.quote(d.guest())
                + ") does not exist");
      }
      opts.withDirectory(d.guest(), d.host());
    }
    return WasiPreview1.builder().withOptions(opts.build()).build();
  }

  /**
   * Links every function import of {@code module}: WASI first, then preloads, then a stub that
   * traps naming the import. Other imports are left for Endive to report as unlinkable.
   */
  private static ImportValues imports(
      WasmModule module, WasiPreview1 wasi, Map<String, Instance> preloads) {
    Map<String, HostFunction> wasiFns = new HashMap<>();
    if (wasi != null) {
      for (HostFunction f : wasi.toHostFunctions()) {
        wasiFns.put(f.name(), f);
      }
    }
    List<ImportFunction> fns = new ArrayList<>();
    var section = module.importSection();
    for (int i = 0; i < section.importCount(); i++) {
      Import imp = section.getImport(i);
      if (imp.importType() != ExternalType.FUNCTION) {
        continue;
      }
      FunctionType type = module.typeSection().getType(((FunctionImport) imp).typeIndex());
      String mod = imp.module();
      String name = imp.name();
      HostFunction wasiFn = WASI_MODULE.equals(mod) ? wasiFns.get(name) : null;
      Instance pre = preloads.get(mod);
      if (wasiFn != null && wasiFn.functionType().equals(type)) {
        fns.add(wasiFn);
      } else if (pre != null && exportedFunction(pre, name) != null) {
        ExportFunction target = pre.export(name);
        fns.add(new HostFunction(mod, name, type, (inst, args) -> target.apply(args)));
      } else {
        String why =
            wasi == null && WASI_MODULE.equals(mod)
                ? " (WASI is not allowed during initialization; pass --allow-wasi)"
                : " (no --preload module provides it)";
        fns.add(
            new HostFunction(
                mod,
                name,
                type,
                (inst, args) -> {
                  throw new WizerException.InitFailed(
                      "called the import "
                          + Names.quote(mod + "." + name)
                          + ", which is not available"
                          + why);
                }));
      }
    }
    return ImportValues.builder().withFunctions(fns).build();
  }
}
