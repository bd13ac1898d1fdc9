package dev.wizer4j.examples.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;
import run.endive.wasm.types.ExternalType;

/**
 * Runs after {@code package}, against the jar: the class Endive's compiler made from the
 * pre-initialized module, and the pre-initialized module itself, both hold the 1,000 primes that
 * only the init function computes, although nobody calls it here.
 */
class PrimesIT {
  /** The module is compiled into the jar, and answers from the snapshot. */
  @Test
  void compiledClassFromTheJarHoldsTheState() {
    String where = Primes.class.getProtectionDomain().getCodeSource().getLocation().toString();
    assertTrue(where.endsWith(".jar"), "Primes is loaded from the jar, not from " + where);

    Instance instance =
        Instance.builder(Primes.load()).withMachineFactory(Primes::create).build();
    assertEquals(1000, instance.export("count").apply()[0]);
    assertEquals(2, instance.export("nth").apply(0)[0]);
    assertEquals(7919, instance.export("nth").apply(999)[0]); // the 1,000th prime
  }

  /** The pre-initialized wasm is a resource of the jar; the original is not. */
  @Test
  void preInitializedModuleInTheJar() throws IOException {
    byte[] wasm;
    try (InputStream in = PrimesIT.class.getResourceAsStream("/primes.wasm")) {
      assertNotNull(in, "primes.wasm is in the jar");
      wasm = in.readAllBytes();
    }
    assertTrue(
        PrimesIT.class.getResource("/primes.wasm").toString().startsWith("jar:"),
        "read from the jar");
    byte[] original = Files.readAllBytes(Path.of("src/main/wasm/primes.wasm"));
    assertTrue(!Arrays.equals(original, wasm), "the jar holds the pre-initialized module");

    WasmModule module = Parser.parse(wasm);
    boolean keepInit = Boolean.getBoolean("example.keepInitFunc");
    assertEquals(keepInit, exportsFunction(module, "wizer-initialize"), "init export kept?");

    Instance instance = Instance.builder(module).build(); // Endive's interpreter
    assertEquals(1000, instance.export("count").apply()[0]);
    assertEquals(541, instance.export("nth").apply(99)[0]);

    // The original, without init, has nothing: nth traps.
    Instance raw = Instance.builder(Parser.parse(original)).build();
    assertEquals(0, raw.export("count").apply()[0]);
    assertThrows(RuntimeException.class, () -> raw.export("nth").apply(0));
  }

  private static boolean exportsFunction(WasmModule module, String name) {
    var exports = module.exportSection();
    for (int i = 0; i < exports.exportCount(); i++) {
      if (exports.getExport(i).name().equals(name)
          && exports.getExport(i).exportType() == ExternalType.FUNCTION) {
        return true;
      }
    }
    return false;
  }
}
