package dev.wizer4j.endive;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The output never depends on the engine: every fixture (WAT and C/C++, with the flags of its
 * {@code .args} file) wizened on the interpreter and on the compiler gives the same bytes, or fails
 * on both.
 */
class EngineIndependenceTest {
  static final Path FIXTURES = Path.of("..", "fixtures");

  static Stream<String> fixtures() throws IOException {
    List<String> names = new ArrayList<>();
    try (Stream<Path> s = Files.list(FIXTURES.resolve("wat"))) {
      s.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".wat"))
          .sorted()
          .forEach(n -> names.add("wat/" + n));
    }
    try (Stream<Path> s = Files.list(FIXTURES.resolve("wasm"))) {
      s.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".wasm"))
          .sorted()
          .forEach(n -> names.add("wasm/" + n));
    }
    assertTrue(names.size() > 50, "fixtures found: " + names.size());
    return names.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void interpreterAndCompilerGiveTheSameBytes(String fixture) throws IOException {
    Path file = FIXTURES.resolve(fixture);
    byte[] input =
        fixture.endsWith(".wat") ? Harness.wat(Files.readString(file)) : Files.readAllBytes(file);
    Path argsFile = Path.of(file.toString().replaceFirst("\\.wa[ts]m?$", "") + ".args");
    String[] args =
        Files.exists(argsFile) ? Files.readString(argsFile).trim().split("\\s+") : new String[0];

    Object interpreted = wizen(args, EndiveRuntime.Engine.INTERPRETER, input);
    Object compiled = wizen(args, EndiveRuntime.Engine.COMPILER, input);
    if (interpreted instanceof byte[] a) {
      assertTrue(compiled instanceof byte[], () -> "compiler failed: " + compiled);
      assertArrayEquals(a, (byte[]) compiled, fixture + ": outputs differ between engines");
    } else {
      assertEquals(
          interpreted.getClass(),
          compiled.getClass(),
          () -> "interpreter: " + interpreted + "; compiler: " + compiled);
    }
  }

  /** The output bytes, or the WizerException of a failed run. */
  private static Object wizen(String[] args, EndiveRuntime.Engine engine, byte[] input)
      throws IOException {
    try {
      Wizer.Builder w = Wizer.builder();
      EndiveRuntime.Builder rt = EndiveRuntime.builder().inheritStdio(false).engine(engine);
      configure(args, w, rt);
      return w.runtime(rt.build()).build().run(input);
    } catch (WizerException e) {
      return e;
    }
  }

  /** Maps the command-line flags the fixtures use onto the builder. */
  private static void configure(String[] args, Wizer.Builder b, EndiveRuntime.Builder rt)
      throws IOException {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "--allow-wasi" -> rt.allowWasi(true);
        case "--keep-init-func", "--keep-init-func=true" -> b.keepInitFunc(true);
        case "--keep-init-func=false" -> b.keepInitFunc(false);
        case "-f", "--init-func" -> b.initFunc(args[++i]);
        case "-r", "--rename-func" -> {
          String[] r = args[++i].split("=", 2);
          b.renameFunc(r[0], r[1]);
        }
        case "--mapdir" -> {
          String[] m = args[++i].split("::", 2);
          rt.mapDir(m[0], Path.of("..").resolve(m[1]));
        }
        case "--preload" -> {
          String[] p = args[++i].split("=", 2);
          Path f = Path.of("..").resolve(p[1]);
          byte[] wasm =
              f.toString().endsWith(".wat")
                  ? Harness.wat(Files.readString(f))
                  : Files.readAllBytes(f);
          rt.preload(p[0], wasm);
        }
        default -> throw new IllegalArgumentException("flag not mapped in this test: " + a);
      }
    }
  }
}
