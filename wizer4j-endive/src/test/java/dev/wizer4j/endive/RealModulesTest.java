package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.assertValid;
import static dev.wizer4j.endive.Harness.assertWizened;
import static dev.wizer4j.endive.Harness.call;
import static dev.wizer4j.endive.Harness.instantiate;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import dev.wizer4j.testing.Binary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/** C and C++ programs compiled to wasm32-wasi (sources and build script in fixtures/). */
class RealModulesTest {
  static final Path FIXTURES = Path.of("..", "fixtures");

  static byte[] fixture(String name) throws IOException {
    return Files.readAllBytes(FIXTURES.resolve("wasm").resolve(name + ".wasm"));
  }

  static byte[] fixtureUnchecked(String name) {
    try {
      return fixture(name);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  static String[] probes(String... spec) {
    List<String> out = new ArrayList<>();
    for (String s : spec) {
      out.add(s);
    }
    return out.toArray(String[]::new);
  }

  @Test
  void primesComputeHeavyInit() throws IOException {
    Wizer wizer = Wizer.builder().build();
    byte[] out =
        assertWizened(
            wizer,
            fixture("primes"),
            "count",
            "initialized",
            "nth:0",
            "nth:1000",
            "nth:148932",
            "is_prime:1999993",
            "bump",
            "bump");
    assertEquals(148_933, call(instantiate(out), "count")[0]);
    assertTrue(Parser.parse(out).exportSection().exportCount() > 0);
  }

  /**
   * Every custom section (DWARF, {@code name}, {@code producers}) is copied byte for byte: compared
   * as raw bytes of the binary, not through a parser that decodes some of them.
   */
  @Test
  void debugInfoAndNameSectionsAreCopiedUnchanged() throws IOException {
    byte[] in = fixture("primes-debug");
    byte[] out = Wizer.builder().build().run(in);
    assertValid(out);
    List<byte[]> before = customSections(in);
    List<byte[]> after = customSections(out);
    assertTrue(before.size() >= 3, "the fixture has DWARF and name sections: " + before.size());
    assertEquals(before.size(), after.size(), "custom section count");
    for (int i = 0; i < before.size(); i++) {
      assertArrayEquals(before.get(i), after.get(i), "custom section " + i);
    }
  }

  /**
   * The custom sections of {@code wasm}, each as its raw bytes (id, size and payload), in order.
   */
  private static List<byte[]> customSections(byte[] wasm) {
    List<byte[]> result = new ArrayList<>();
    for (Binary.Section s : Binary.sections(wasm)) {
      if (s.id() == 0) {
        result.add(Arrays.copyOfRange(wasm, s.start(), s.end()));
      }
    }
    return result;
  }

  @Test
  void cppStaticConstructorsRunOnceThroughInitialize() throws IOException {
    byte[] out =
        assertWizened(
            Wizer.builder().build(),
            fixture("ctors"),
            "size",
            "ctor_runs",
            "lookup:0",
            "lookup:57",
            "item:3",
            "item:150");
    assertEquals(1, call(instantiate(out), "ctor_runs")[0]);
    for (int i = 0; i < Parser.parse(out).exportSection().exportCount(); i++) {
      String name = Parser.parse(out).exportSection().getExport(i).name();
      assertTrue(!name.equals("_initialize") && !name.equals("wizer-initialize"), name);
    }
  }

  @Test
  void sparseMemoryWithMoreRegionsThanSegments() throws IOException {
    byte[] out =
        assertWizened(Wizer.builder().build(), fixture("sparse"), "sum", "get:0", "get:600");
    assertTrue(Parser.parse(out).dataSection().dataSegmentCount() <= 10_000);
  }

  @Test
  void memoryGrowthAndTheLastByte() throws IOException {
    byte[] out =
        assertWizened(
            Wizer.builder().build(), fixture("grow"), "pages", "last_byte", "block_byte:4096");
    assertEquals(0xa7, call(instantiate(out), "last_byte")[0]);
  }

  @Test
  void wasiFileReadDuringInit() throws IOException {
    Path data = FIXTURES.resolve("data");
    byte[] text = Files.readAllBytes(data.resolve("input.txt"));
    byte[] out =
        Wizer.builder()
            .runtime(EndiveRuntime.builder().allowWasi(true).mapDir("/data", data).build())
            .build()
            .run(fixture("readfile"));
    assertValid(out);
    // The output answers from memory: its WASI imports are stubs that trap if called.
    Instance i = instantiate(out);
    assertEquals(text.length, call(i, "len")[0]);
    int h = 0x811c9dc5;
    for (byte b : text) {
      h ^= b & 0xff;
      h *= 16777619;
    }
    assertEquals(h, (int) call(i, "checksum")[0]);
    for (int k = 0; k < text.length; k += 97) {
      assertEquals(text[k] & 0xff, call(i, "byte_at:" + k)[0], "byte " + k);
    }
  }
}
