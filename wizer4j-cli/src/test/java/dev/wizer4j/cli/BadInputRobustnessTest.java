package dev.wizer4j.cli;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.testing.Wat;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Untrusted input: every truncation prefix and a few thousand single-bit flips of valid modules
 * either pre-initialize to a module wabt accepts, or fail with a {@link WizerException}. Any other
 * exception, or a hang, is a bug.
 *
 * <p>The seeds' init code is straight-line (no loops), so that no flip can turn a terminating init
 * into an endless one: Wizer itself would run such an init forever, and that is not what this test
 * is about.
 */
class BadInputRobustnessTest {
  static final long SEED = 0x5eed_2024L;
  static final int FLIPS_PER_MODULE = Integer.getInteger("wizer4j.robustness.flips", 1500);

  /** Data segments (active and passive), globals of every number type, a start function. */
  static final String RICH =
      """
      (module
        (type $v (func))
        (import "env" "never_called" (func $never (param i32) (result i32)))
        (memory $m 1 4)
        (global $a (mut i32) (i32.const 7))
        (global $b (mut i64) (i64.const -3))
        (global $c (mut f32) (f32.const 1.5))
        (global $d (mut f64) (f64.const -0.0))
        (global $k i32 (i32.const 1024))
        (global $started (mut i32) (i32.const 0))
        (data (i32.const 16) "active segment one")
        (data (global.get $k) "\\01\\02\\03\\04")
        (data $p "passive bytes")
        (func $start (global.set $started (i32.const 1)))
        (start $start)
        (func $helper (param $x i32) (result i32)
          (i32.add (local.get $x) (global.get $k)))
        (func $init (export "wizer-initialize")
          (global.set $a (call $helper (global.get $a)))
          (global.set $b (i64.mul (global.get $b) (i64.const 1000000007)))
          (global.set $c (f32.div (global.get $c) (f32.const 0.0)))
          (global.set $d (f64.sqrt (f64.const -1)))
          (memory.init $p (i32.const 200) (i32.const 0) (i32.const 13))
          (memory.fill (i32.const 300) (i32.const 0xab) (i32.const 40))
          (memory.copy (i32.const 400) (i32.const 16) (i32.const 18))
          (i64.store offset=8 (i32.const 512) (global.get $b))
          (drop (memory.grow (i32.const 1))))
        (func (export "get_a") (result i32) (global.get $a))
        (func (export "call_never") (result i32) (call $never (i32.const 1)))
        (export "memory" (memory $m))
        (export "k" (global $k)))
      """;

  /** Multiple memories, multi-value, a table with an element segment, a data count section. */
  static final String MULTI =
      """
      (module
        (memory $m0 1)
        (memory $m1 2)
        (table 2 funcref)
        (elem (i32.const 0) $pair $pair)
        (global $lo (mut i32) (i32.const 0))
        (global $hi (mut i32) (i32.const 0))
        (data $d0 (memory $m0) (i32.const 0) "zero")
        (data $d1 (memory $m1) (i32.const 65536) "one")
        (data $p "pp")
        (func $pair (result i32 i32) (i32.const 11) (i32.const 22))
        (func (export "wizer-initialize")
          (call $pair)
          (global.set $hi)
          (global.set $lo)
          (i32.store $m1 (i32.const 70000) (global.get $hi))
          (i32.store8 $m0 (i32.const 3) (i32.const 0x5a))
          (memory.init $m1 $p (i32.const 8) (i32.const 0) (i32.const 2))
          (global.set $lo
            (i32.add (global.get $lo)
                     (call_indirect (result i32 i32) (i32.const 1)) (drop))))
        (func (export "lo") (result i32) (global.get $lo))
        (export "m1" (memory $m1)))
      """;

  /** A small module with a name section, passive data only, and a custom section at the end. */
  static final String NAMED =
      """
      (module $named
        (memory 1)
        (global $flag (mut i32) (i32.const 0))
        (data $words "alpha beta gamma")
        (func $set_flag (param $v i32) (global.set $flag (local.get $v)))
        (func $initialize (export "wizer-initialize")
          (call $set_flag (i32.const 1))
          (memory.init $words (i32.const 32) (i32.const 6) (i32.const 4))
          (i32.store16 (i32.const 2) (i32.const 0xbeef)))
        (func (export "flag") (result i32) (global.get $flag)))
      """;

  static Stream<Arguments> seeds() {
    return Stream.of(
        Arguments.of("rich", Wat.compile(RICH, "--debug-names")),
        Arguments.of("multi", Wat.compile(MULTI)),
        Arguments.of("named", Wat.compile(NAMED, "--debug-names")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("seeds")
  void truncationsAndBitFlips(String name, byte[] seed) throws Exception {
    Wizer wizer = Wizer.builder().build();
    // The seed itself must be accepted, or the mutations test nothing.
    byte[] seedOut = wizer.run(seed);
    assertTrue(Wat.validate(seedOut) == null, name + ": the seed's output is invalid");

    List<byte[]> inputs = new ArrayList<>();
    for (int len = 0; len < seed.length; len++) {
      inputs.add(java.util.Arrays.copyOf(seed, len));
    }
    Random random = new Random(SEED ^ name.hashCode());
    for (int i = 0; i < FLIPS_PER_MODULE; i++) {
      byte[] m = seed.clone();
      int bit = random.nextInt(seed.length * 8);
      m[bit / 8] ^= (byte) (1 << (bit % 8));
      inputs.add(m);
    }

    Map<String, String> escapes = new LinkedHashMap<>();
    Map<ByteBuffer, byte[]> outputs = new LinkedHashMap<>(); // distinct output -> first input
    int[] counts = new int[2]; // accepted, rejected
    assertTimeoutPreemptively(
        Duration.ofSeconds(Math.max(45, FLIPS_PER_MODULE / 30)),
        () -> {
          for (byte[] input : inputs) {
            try {
              outputs.putIfAbsent(ByteBuffer.wrap(wizer.run(input)), input);
              counts[0]++;
            } catch (WizerException expected) {
              counts[1]++;
            } catch (Throwable t) {
              record(escapes, input, seed, t);
            }
          }
        },
        () -> name + ": a mutated module hung the pipeline");

    int[] customOnly = new int[1];
    Map<String, String> invalid = validateAll(outputs, customOnly);
    System.out.printf(
        "%s: %d inputs, %d accepted (%d distinct outputs, %d of them with a malformed custom"
            + " section copied from the input), %d rejected, %d other exceptions%n",
        name, inputs.size(), counts[0], outputs.size(), customOnly[0], counts[1], escapes.size());
    if (!escapes.isEmpty() || !invalid.isEmpty()) {
      StringBuilder sb = new StringBuilder();
      sb.append(name)
          .append(": ")
          .append(escapes.size())
          .append(" distinct non-WizerException failure(s), ")
          .append(invalid.size())
          .append(" invalid output(s)\n");
      escapes.values().forEach(v -> sb.append(v).append('\n'));
      invalid.values().forEach(v -> sb.append(v).append('\n'));
      fail(sb.toString());
    }
  }

  /** Keeps one example per distinct (exception type, throwing frame). */
  private static void record(Map<String, String> escapes, byte[] input, byte[] seed, Throwable t) {
    StackTraceElement[] st = t.getStackTrace();
    String key = t.getClass().getName() + " at " + (st.length > 0 ? st[0] : "?");
    if (escapes.containsKey(key)) {
      return;
    }
    StringWriter trace = new StringWriter();
    t.printStackTrace(new PrintWriter(trace));
    String what;
    if (input.length < seed.length) {
      what = "prefix of " + input.length + " bytes";
    } else {
      int at = java.util.Arrays.mismatch(input, seed);
      what =
          String.format(
              "flip at offset 0x%x: 0x%02x -> 0x%02x", at, seed[at] & 0xff, input[at] & 0xff);
    }
    escapes.put(
        key,
        "--- " + key + "\n" + what + "\ninput: " + HexFormat.of().formatHex(input) + "\n" + trace);
  }

  /**
   * Runs wasm-validate on every distinct output, a few at a time. An output that wabt rejects only
   * for a malformed custom section counts in {@code customOnly[0]}: custom sections are copied from
   * the input byte for byte (as Wizer does), and by the spec their contents never make a module
   * invalid. Every other rejection is returned, one example per distinct message.
   */
  private static Map<String, String> validateAll(Map<ByteBuffer, byte[]> outputs, int[] customOnly)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      Map<ByteBuffer, Future<String>> results = new LinkedHashMap<>();
      for (ByteBuffer b : outputs.keySet()) {
        results.put(b, pool.submit(() -> Wat.validate(b.array())));
      }
      Map<String, String> invalid = new LinkedHashMap<>();
      for (Map.Entry<ByteBuffer, Future<String>> e : results.entrySet()) {
        String log = e.getValue().get();
        if (log == null) {
          continue;
        }
        byte[] out = e.getKey().array();
        String strictLog = validateIgnoringCustomSections(out);
        if (strictLog == null) {
          customOnly[0]++;
          continue;
        }
        String key = strictLog.replaceAll("^.*?error: ", "").replaceAll("[0-9a-fx]+", "#").trim();
        invalid.putIfAbsent(
            key,
            "--- wasm-validate rejects an output: "
                + strictLog.trim()
                + "\ninput:  "
                + HexFormat.of().formatHex(outputs.get(e.getKey()))
                + "\noutput: "
                + HexFormat.of().formatHex(out));
      }
      return invalid;
    } finally {
      pool.shutdownNow();
    }
  }

  private static String validateIgnoringCustomSections(byte[] wasm) throws Exception {
    Path f = Files.createTempFile("wizer4j-robustness", ".wasm");
    try {
      Files.write(f, wasm);
      Process p =
          new ProcessBuilder(
                  "wasm-validate", "--enable-all", "--ignore-custom-section-errors", f.toString())
              .redirectErrorStream(true)
              .start();
      String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor();
      return p.exitValue() == 0 ? null : log.replace(f.toString(), "output.wasm");
    } finally {
      Files.deleteIfExists(f);
    }
  }
}
