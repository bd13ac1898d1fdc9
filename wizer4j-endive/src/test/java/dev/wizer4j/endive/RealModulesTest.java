package dev.wizer4j.endive;

import static dev.wizer4j.endive.Harness.assertValid;
import static dev.wizer4j.endive.Harness.assertWizened;
import static dev.wizer4j.endive.Harness.call;
import static dev.wizer4j.endive.Harness.instantiate;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.Wizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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

  @Test
  void debugInfoAndNameSectionsAreCopiedUnchanged() throws IOException {
    byte[] in = fixture("primes-debug");
    byte[] out = Wizer.builder().build().run(in);
    assertValid(out);
    var before = Parser.parse(in);
    var after = Parser.parse(out);
    for (var section : before.customSections()) {
      assertTrue(
          java.util.Arrays.equals(
              section instanceof run.endive.wasm.types.UnknownCustomSection u
                  ? u.bytes()
                  : new byte[0],
              after.customSection(section.name())
                      instanceof run.endive.wasm.types.UnknownCustomSection v
                  ? v.bytes()
                  : new byte[0]),
          "custom section " + section.name());
    }
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
