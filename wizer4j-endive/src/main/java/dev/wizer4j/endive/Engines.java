package dev.wizer4j.endive;

import dev.wizer4j.Progress;
import java.util.function.Function;
import run.endive.runtime.ByteArrayMemory;
import run.endive.runtime.Instance;
import run.endive.runtime.InterpreterMachine;
import run.endive.runtime.Machine;
import run.endive.runtime.Memory;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.FunctionBody;
import run.endive.wasm.types.MemoryLimits;

/**
 * Decides how Endive runs a module's code (its interpreter or its compiler to JVM bytecode) and
 * builds the machine factory for that choice. The output of a run never depends on the engine; only
 * its speed does.
 *
 * <p>{@code auto} decides from what is known before anything runs:
 *
 * <ul>
 *   <li>This JVM compiled the same module before: the compiler, whose classes are loaded and
 *       optimized already. (A disk cache entry does not count for a large module: reading and
 *       defining StarlingMonkey's cached classes takes about a second, more than its compiled init
 *       saves.)
 *   <li>Otherwise by code size. Compiling costs about 0.3-0.6 s in a fresh JVM plus about 1 s per
 *       million instructions, and compiled code runs an init 10-40x faster than the interpreter
 *       once the JIT has it (docs/BENCHMARKS.md). Up to {@link #AUTO_COMPILE_MAX_INSTRUCTIONS} the
 *       compile cost is a few seconds at most and one busy second of init repays it; above, a
 *       module is a language runtime (ruby.wasm: 4.9 million instructions, 40 s and 3 GB to
 *       compile) whose init typically runs a fraction of its code, so the interpreter, which starts
 *       at once, wins.
 * </ul>
 *
 * <p>The compiler never fails a run: functions too large for a JVM method are interpreted one by
 * one (Endive's own fallback), and a module the compiler cannot handle at all runs on the
 * interpreter, with a note.
 */
final class Engines {
  /** Up to this many instructions, {@code auto} compiles a module it has no compiled form of. */
  static final long AUTO_COMPILE_MAX_INSTRUCTIONS = 1_000_000;

  /** What was chosen and why, for the {@code -v} note. */
  record Choice(boolean compile, String reason) {}

  private Engines() {}

  /**
   * The machine factory for {@code module} under {@code requested}, or null for Endive's default
   * (the interpreter). Notes on the choice, and on any fall-back, go to {@code note}.
   */
  static Function<Instance, Machine> machine(
      WasmModule module,
      EndiveRuntime.Engine requested,
      CompiledModuleCache cache,
      Progress progress) {
    long instructions = instructionCount(module);
    if (requested == EndiveRuntime.Engine.COMPILER) {
      RuntimeCompiler.requireAvailable();
    }
    boolean available = RuntimeCompiler.available();
    Choice choice =
        available
            ? choose(requested, instructions, cache != null && cache.loaded(module) != null)
            : new Choice(false, "auto: Endive's compiler is not on the class path");
    progress.note(
        "engine: "
            + (choice.compile() ? "compiler" : "interpreter")
            + " ("
            + choice.reason()
            + "; "
            + instructions
            + " instructions in "
            + module.codeSection().functionBodyCount()
            + " functions)");
    if (!choice.compile()) {
      return null;
    }
    progress.stage("compile");
    Function<Instance, Machine> compiled;
    try {
      compiled = compile(module, cache, progress);
    } catch (RuntimeException | LinkageError | OutOfMemoryError e) {
      progress.note(
          "engine: the compiler failed (" + describe(e) + "); running on the interpreter");
      return null;
    }
    return guarded(compiled, progress);
  }

  static Choice choose(EndiveRuntime.Engine requested, long instructions, boolean loadedHere) {
    switch (requested) {
      case INTERPRETER:
        return new Choice(false, "requested");
      case COMPILER:
        return new Choice(true, "requested");
      default:
        break;
    }
    if (loadedHere) {
      return new Choice(true, "auto: compiled in this JVM before");
    }
    if (instructions <= AUTO_COMPILE_MAX_INSTRUCTIONS) {
      return new Choice(true, "auto: code of at most " + AUTO_COMPILE_MAX_INSTRUCTIONS);
    }
    return new Choice(false, "auto: code above " + AUTO_COMPILE_MAX_INSTRUCTIONS);
  }

  /**
   * Linear memory as a plain {@code byte[]} ({@code ByteArrayMemory}) rather than Endive's default
   * heap {@code ByteBuffer}s: compiled code spends most of a pointer-chasing init (C++ containers)
   * in memory loads, which are cheaper on an array, and the snapshot scans an array without
   * copying.
   */
  static Function<MemoryLimits, Memory> memoryFactory() {
    return ByteArrayMemory::new;
  }

  /** Instructions in all function bodies: what the compiler's cost grows with. */
  static long instructionCount(WasmModule module) {
    long n = 0;
    for (FunctionBody body : module.codeSection().functionBodies()) {
      n += body.instructions().size();
    }
    return n;
  }

  private static Function<Instance, Machine> compile(
      WasmModule module, CompiledModuleCache cache, Progress progress) {
    if (cache != null) {
      Function<Instance, Machine> warm = cache.loaded(module);
      if (warm != null) {
        progress.note("engine: compiled classes of this module reused from this JVM");
        return warm;
      }
    }
    Function<Instance, Machine> machines =
        RuntimeCompiler.compile(withoutCustomSections(module), cache, progress::note);
    if (cache != null) {
      cache.keepLoaded(module, machines);
    }
    return machines;
  }

  /**
   * The compiler reads custom sections only to name a function it cannot compile, and expects the
   * {@code name} section decoded, which wizer4j's parse leaves undecoded (the output copies it as
   * bytes): it failed with a ClassCastException on any module with a name section and a function
   * too large for a JVM method. It gets a copy of the module without custom sections instead; the
   * code is the same, so are the machines.
   */
  static WasmModule withoutCustomSections(WasmModule m) {
    if (m.customSections().isEmpty()) {
      return m;
    }
    WasmModule.Builder b =
        WasmModule.builder()
            .withValidation(false)
            .withDigest(m.digest())
            .setTypeSection(m.typeSection())
            .setImportSection(m.importSection())
            .setFunctionSection(m.functionSection())
            .setTableSection(m.tableSection())
            .setGlobalSection(m.globalSection())
            .setExportSection(m.exportSection())
            .setElementSection(m.elementSection())
            .setCodeSection(m.codeSection())
            .setDataSection(m.dataSection());
    m.memorySection().ifPresent(b::setMemorySection);
    m.startSection().ifPresent(b::setStartSection);
    m.dataCountSection().ifPresent(b::setDataCountSection);
    m.tagSection().ifPresent(b::setTagSection);
    for (Integer id : m.ignoredSections()) {
      b.addIgnoredSection(id);
    }
    return b.build();
  }

  /**
   * Compiled classes are defined when the first machine is made; a failure there (a class the JVM
   * rejects) happens before any guest code runs, so the instance can still get an interpreter.
   */
  private static Function<Instance, Machine> guarded(
      Function<Instance, Machine> compiled, Progress progress) {
    return instance -> {
      try {
        return compiled.apply(instance);
      } catch (RuntimeException | LinkageError e) {
        progress.note(
            "engine: the compiled module cannot be loaded ("
                + describe(e)
                + "); running on the interpreter");
        return new InterpreterMachine(instance);
      }
    };
  }

  private static String describe(Throwable e) {
    return e.getMessage() == null
        ? e.getClass().getSimpleName()
        : e.getClass().getSimpleName() + ": " + e.getMessage();
  }
}
