package dev.wizer4j.endive;

import dev.wizer4j.WizerException;
import java.util.function.Function;
import run.endive.compiler.MachineFactoryCompiler;
import run.endive.runtime.Instance;
import run.endive.runtime.Machine;
import run.endive.wasm.WasmModule;

/**
 * Endive's compiler to JVM bytecode, which is an optional dependency: it brings ASM, and a program
 * that only interprets should not carry it. This is the one class that names the compiler, so the
 * rest of the runtime loads without it.
 */
final class RuntimeCompiler {
  private static final String COMPILER_CLASS = "run.endive.compiler.MachineFactoryCompiler";

  private RuntimeCompiler() {}

  /** Whether {@code run.endive:compiler} (and ASM) are on the class path. */
  static boolean available() {
    try {
      Class.forName(COMPILER_CLASS, false, RuntimeCompiler.class.getClassLoader());
      Class.forName("org.objectweb.asm.ClassWriter", false, RuntimeCompiler.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /** Compiles {@code module}; a clear error when the compiler is not on the class path. */
  static Function<Instance, Machine> compile(WasmModule module) {
    if (!available()) {
      throw new WizerException.Unsupported(
          "the compiler engine needs Endive's compiler on the class path (run.endive:compiler,"
              + " an optional dependency of wizer4j-endive); add it, or use the interpreter");
    }
    try {
      return MachineFactoryCompiler.compile(module);
    } catch (RuntimeException e) {
      throw new WizerException.InitFailed(
          "the Endive compiler cannot compile this module: " + e.getMessage(), e);
    }
  }
}
