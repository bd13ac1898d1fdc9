package dev.wizer4j.endive;

import dev.wizer4j.WizerException;
import java.util.function.Consumer;
import java.util.function.Function;
import run.endive.compiler.Cache;
import run.endive.compiler.InterpreterFallback;
import run.endive.compiler.MachineFactoryCompiler;
import run.endive.runtime.CompiledModule;
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

  /** A clear error when the compiler was asked for and is not on the class path. */
  static void requireAvailable() {
    if (!available()) {
      throw new WizerException.Unsupported(
          "the compiler engine needs Endive's compiler on the class path (run.endive:compiler,"
              + " an optional dependency of wizer4j-endive); add it, or use the interpreter");
    }
  }

  /**
   * Compiles {@code module}: functions too large for a JVM method are left to the interpreter one
   * by one, and with a {@code disk} cache (which needs the module's digest) compiled classes are
   * read from and written to it. The factory returned makes machines for any instance of a module
   * with the same code, not only of {@code module} itself (see {@link Engines}).
   */
  static Function<Instance, Machine> compile(
      WasmModule module, CompiledModuleCache disk, Consumer<String> note) {
    return WithCompiler.compile(module, disk, note);
  }

  /**
   * The code that needs the compiler's classes to verify (a {@code Cache} implementation), in a
   * class of its own: the JVM loads it only when a module is compiled.
   */
  private static final class WithCompiler {
    private WithCompiler() {}

    static Function<Instance, Machine> compile(
        WasmModule module, CompiledModuleCache disk, Consumer<String> note) {
      MachineFactoryCompiler.Builder b =
          MachineFactoryCompiler.builder(module)
              .withInterpreterFallback(InterpreterFallback.SILENT);
      if (disk != null && module.digest() != null) {
        b.withCache(
            new Cache() {
              @Override
              public byte[] get(String digest) {
                return disk.read(digest, note);
              }

              @Override
              public void putIfAbsent(String digest, byte[] data) {
                disk.write(digest, data, note);
              }
            });
      }
      Function<Instance, Machine> factory = b.compile();
      // Endive's factory insists on the very module object it compiled; the machines it makes only
      // need an instance of a module with the same code.
      return factory instanceof CompiledModule c ? c.machineFactory() : factory;
    }
  }
}
