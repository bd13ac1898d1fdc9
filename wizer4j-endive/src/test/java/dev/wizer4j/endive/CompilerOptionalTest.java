package dev.wizer4j.endive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Endive's compiler (and ASM) is an optional dependency: on a class path without it, the
 * interpreter works and asking for the compiler is one clear error. Checked in a JVM whose class
 * path is this test's minus the compiler and ASM jars.
 */
class CompilerOptionalTest {
  @Test
  void interpreterOnlyClassPath() throws IOException, InterruptedException {
    String full = System.getProperty("java.class.path");
    List<String> kept =
        Arrays.stream(full.split(File.pathSeparator))
            .filter(e -> !e.contains("/org/ow2/asm/") && !e.contains("/run/endive/compiler/"))
            .collect(Collectors.toList());
    assertTrue(kept.size() < full.split(File.pathSeparator).length, "the compiler was removed");
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                String.join(File.pathSeparator, kept),
                Probe.class.getName())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    assertEquals(
        List.of(
            "no compiler classes",
            "auto: 42",
            "interpreter: 42",
            "compiler: the compiler engine needs Endive's compiler on the class path"
                + " (run.endive:compiler, an optional dependency of wizer4j-endive); add it, or"
                + " use the interpreter"),
        out.lines().collect(Collectors.toList()));
  }

  @Test
  void withTheCompilerItIsAvailable() {
    assertTrue(RuntimeCompiler.available());
  }

  /** Runs in the JVM without the compiler; prints what each engine did. */
  public static final class Probe {
    public static void main(String[] args) {
      try {
        Class.forName("org.objectweb.asm.ClassWriter");
        System.out.println("ASM is on the class path");
      } catch (ClassNotFoundException e) {
        System.out.println("no compiler classes");
      }
      byte[] wasm =
          Harness.wat(
              "(module (global $g (mut i32) (i32.const 0))"
                  + " (func (export \"wizer-initialize\") (global.set $g (i32.const 42)))"
                  + " (func (export \"g\") (result i32) (global.get $g)))");
      for (EndiveRuntime.Engine engine : EndiveRuntime.Engine.values()) {
        String name = engine.name().toLowerCase(java.util.Locale.ROOT);
        try {
          byte[] out =
              Wizer.builder()
                  .runtime(EndiveRuntime.builder().engine(engine).build())
                  .build()
                  .run(wasm);
          System.out.println(name + ": " + Harness.call(Harness.instantiate(out), "g")[0]);
        } catch (WizerException e) {
          System.out.println(name + ": " + e.getMessage());
        }
      }
      assertFalse(RuntimeCompiler.available());
    }
  }
}
