package dev.wizer4j;

import java.io.ByteArrayInputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.IntStream;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.FunctionBody;
import run.endive.wasm.types.FunctionType;

/**
 * Validation of large modules on several cores. Type-checking function bodies is most of the cost
 * of validating a large module (about 1.8 s of 3.5 s for ruby.wasm's 16 MB), and each body is
 * checked independently, so the bodies are split into contiguous ranges, each checked by its own
 * Endive validator. The other checks run as Endive runs them, in the same order; the first invalid
 * body by index is the one reported, as in a sequential run.
 *
 * <p>Endive's validator is not public API, so it is reached by reflection; if that fails (a
 * different Endive, a module path that does not open it), {@link #parse} returns null and the
 * caller validates sequentially.
 */
final class ParallelValidation {
  /** Below this much code, one core validates faster than it takes to hand out the work. */
  static final int MIN_CODE_BYTES = 1 << 20;

  private static final Access ACCESS = Access.find();

  private ParallelValidation() {}

  private record Access(
      Constructor<?> validator, Method function, Method types, List<Method> afterFunctions) {

    static Access find() {
      try {
        Class<?> c = Class.forName("run.endive.wasm.Validator");
        Constructor<?> ctor = c.getDeclaredConstructor(WasmModule.class);
        Method function =
            c.getDeclaredMethod(
                "validateFunction", int.class, FunctionBody.class, FunctionType.class);
        Method types = c.getDeclaredMethod("validateTypes");
        List<Method> after = new ArrayList<>();
        for (String name :
            List.of(
                "validateGlobals",
                "validateElements",
                "validateData",
                "validateTags",
                "validateTables")) {
          after.add(c.getDeclaredMethod(name));
        }
        ctor.setAccessible(true);
        function.setAccessible(true);
        types.setAccessible(true);
        for (Method m : after) {
          m.setAccessible(true);
        }
        return new Access(ctor, function, types, after);
      } catch (ReflectiveOperationException | RuntimeException e) {
        return null;
      }
    }
  }

  /**
   * Parses and fully validates {@code bytes} using every core, or returns null if this Endive
   * cannot be driven this way. Invalid modules throw whatever Endive's validator throws.
   */
  static WasmModule parse(byte[] bytes, int codeBytes) {
    return parse(bytes, codeBytes, MIN_CODE_BYTES);
  }

  static WasmModule parse(byte[] bytes, int codeBytes, int minCodeBytes) {
    int cores = Runtime.getRuntime().availableProcessors();
    if (ACCESS == null || codeBytes < minCodeBytes || cores < 2) {
      return null;
    }
    // Parsing without validation still runs Endive's module-level checks.
    WasmModule module =
        Parser.builder()
            .withValidation(false)
            .withCustomParsers(Map.of())
            .build()
            .parse(() -> new ByteArrayInputStream(bytes));
    Object first = newValidator(module);
    invoke(ACCESS.types(), first);

    int imported = module.importSection().count(run.endive.wasm.types.ExternalType.FUNCTION);
    FunctionBody[] bodies = module.codeSection().functionBodies();
    int slices = Math.min(bodies.length, cores * 4);
    // A parallel stream runs on the common pool and on this thread, so every core works.
    RuntimeException failure =
        IntStream.range(0, slices)
            .parallel()
            .mapToObj(
                s -> {
                  int from = (int) ((long) bodies.length * s / slices);
                  int to = (int) ((long) bodies.length * (s + 1) / slices);
                  Object v = newValidator(module);
                  try {
                    for (int i = from; i < to; i++) {
                      int idx = imported + i;
                      invoke(ACCESS.function(), v, idx, bodies[i], Check.functionType(module, idx));
                    }
                    return null;
                  } catch (RuntimeException e) {
                    return e;
                  }
                })
            .filter(Objects::nonNull)
            .findFirst() // encounter order: the lowest failing slice holds the lowest failing body
            .orElse(null);
    if (failure != null) {
      throw failure;
    }
    for (Method m : ACCESS.afterFunctions()) {
      invoke(m, first);
    }
    return module;
  }

  private static Object newValidator(WasmModule module) {
    try {
      return ACCESS.validator().newInstance(module);
    } catch (InvocationTargetException e) {
      throw unwrap(e);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void invoke(Method m, Object target, Object... args) {
    try {
      m.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw unwrap(e);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static RuntimeException unwrap(InvocationTargetException e) {
    Throwable c = e.getCause();
    if (c instanceof RuntimeException r) {
      return r;
    }
    if (c instanceof Error err) {
      throw err;
    }
    return new IllegalStateException(c);
  }
}
