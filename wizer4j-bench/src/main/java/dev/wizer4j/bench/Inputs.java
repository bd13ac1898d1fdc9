package dev.wizer4j.bench;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.InstanceState;
import dev.wizer4j.MemoryImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Inputs of the benchmarks: modules from the repository (found from the working directory, or from
 * {@code -Dwizer4j.root=DIR}), a synthetic module with a memory of any size, and memory contents
 * with a known shape.
 */
final class Inputs {
  static final int PAGE = 65536;

  private Inputs() {}

  /** The repository root: {@code wizer4j.root}, or the nearest directory up with fixtures/wasm. */
  static Path root() {
    String prop = System.getProperty("wizer4j.root");
    if (prop != null) {
      return Path.of(prop);
    }
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("fixtures/wasm"))) {
        return p;
      }
    }
    throw new IllegalStateException(
        "cannot find the repository (fixtures/wasm): run from inside it or pass"
            + " -Dwizer4j.root=DIR (with -jvmArgsAppend for forked runs)");
  }

  /**
   * A module by name: {@code ruby} is ruby.wasm from bench/node_modules (installed by
   * bench/run.sh); {@code largest} is ruby.wasm if present, else the largest fixture; any other
   * name is fixtures/wasm/NAME.wasm, and a path ending in .wasm is read as it is.
   */
  static byte[] module(String name) {
    Path root = root();
    Path ruby = root.resolve("bench/node_modules/@ruby/3.4-wasm-wasi/dist/ruby.wasm");
    Path file;
    if (name.endsWith(".wasm")) {
      file = Path.of(name);
    } else if (name.equals("ruby")) {
      file = ruby;
    } else if (name.equals("largest")) {
      file = Files.isRegularFile(ruby) ? ruby : largestFixture(root);
    } else {
      file = root.resolve("fixtures/wasm/" + name + ".wasm");
    }
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot read " + file + (name.equals("ruby") ? " (run bench/run.sh once)" : ""), e);
    }
  }

  private static Path largestFixture(Path root) {
    try (Stream<Path> files = Files.list(root.resolve("fixtures/wasm"))) {
      return files
          .filter(p -> p.toString().endsWith(".wasm"))
          .max(Comparator.comparingLong(Inputs::size))
          .orElseThrow(() -> new IllegalStateException("no fixtures/wasm/*.wasm"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static long size(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code (module (memory PAGES) (func (export "wizer-initialize")))}: the smallest module whose
   * snapshot is all memory.
   */
  static byte[] memoryModule(int pages) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {0, 'a', 's', 'm', 1, 0, 0, 0});
    section(out, 1, new byte[] {1, 0x60, 0, 0}); // type 0: [] -> []
    section(out, 3, new byte[] {1, 0}); // func 0: type 0
    ByteArrayOutputStream mem = new ByteArrayOutputStream();
    mem.write(1);
    mem.write(0); // no maximum
    leb(mem, pages);
    section(out, 5, mem.toByteArray());
    ByteArrayOutputStream exp = new ByteArrayOutputStream();
    byte[] name = "wizer-initialize".getBytes(StandardCharsets.UTF_8);
    exp.write(1);
    leb(exp, name.length);
    exp.writeBytes(name);
    exp.write(0); // function
    exp.write(0); // index 0
    section(out, 7, exp.toByteArray());
    section(out, 10, new byte[] {1, 2, 0, 0x0b}); // one body: no locals, end
    return out.toByteArray();
  }

  private static void section(ByteArrayOutputStream out, int id, byte[] body) {
    out.write(id);
    leb(out, body.length);
    out.writeBytes(body);
  }

  private static void leb(ByteArrayOutputStream out, long v) {
    do {
      int b = (int) (v & 0x7f);
      v >>>= 7;
      out.write(v != 0 ? b | 0x80 : b);
    } while (v != 0);
  }

  /**
   * Writes {@code total} non-zero-ish bytes into {@code mem} the way a heap looks: clusters of 16
   * bytes to 16 KiB (small ones far more common) at random places, each holding random bytes of
   * which about one in eight is zero (padding, small integers), so the scanner sees short gaps
   * inside clusters as well as long zero stretches between them. Deterministic.
   */
  static void heapLike(byte[] mem, int total, long seed) {
    Random rnd = new Random(seed);
    int written = 0;
    while (written < total) {
      int size = Math.min(16 << rnd.nextInt(11), total - written); // 16 B .. 16 KiB
      int at = rnd.nextInt(mem.length - size) & ~7;
      for (int i = 0; i < size; i++) {
        mem[at + i] = rnd.nextInt(8) == 0 ? 0 : (byte) (1 + rnd.nextInt(255));
      }
      written += size;
    }
  }

  /** Fills {@code mem} with random bytes none of which is zero: one segment, every byte copied. */
  static void allDirty(byte[] mem, long seed) {
    Random rnd = new Random(seed);
    for (int i = 0; i < mem.length; i++) {
      mem[i] = (byte) (1 + rnd.nextInt(255));
    }
  }

  /**
   * An {@link InstanceState} that is not a runtime: every global reads as zero, every memory is
   * {@code memory}. It isolates the snapshotter from any engine.
   */
  static InstanceState fixedState(byte[] memory) {
    return new InstanceState() {
      @Override
      public GlobalValue global(int index, String exportName, GlobalValue.Type type) {
        return switch (type) {
          case I32 -> GlobalValue.i32(0);
          case I64 -> GlobalValue.i64(0);
          case F32 -> GlobalValue.f32Bits(0);
          case F64 -> GlobalValue.f64Bits(0);
          case V128 -> GlobalValue.v128(0, 0);
        };
      }

      @Override
      public <R> R memory(int index, String exportName, Function<MemoryImage, R> reader) {
        return reader.apply(MemoryImage.of(memory));
      }
    };
  }
}
