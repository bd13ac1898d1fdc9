package dev.wizer4j.bench;

import dev.wizer4j.WasmBounds;
import dev.wizer4j.Wizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What the defences against hostile input cost. {@code manyExportedGlobals} pre-initializes a
 * module with {@code globals} exported mutable globals (the init sets each): the time must grow in
 * proportion to the count, not with its square. {@code boundedWalk} is the walk that checks every
 * declared count and length of {@code module} before the runtime's parser sees it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class HostileInputBenchmark {
  @Param({"10000", "100000"})
  public int globals;

  /** A module from {@link Inputs#module}: {@code largest} is ruby.wasm or the largest fixture. */
  @Param({"largest"})
  public String module;

  private byte[] manyGlobals;
  private byte[] walked;

  @Setup
  public void setup() {
    manyGlobals = manyExportedGlobals(globals);
    walked = Inputs.module(module);
  }

  @Benchmark
  public byte[] manyExportedGlobals() {
    return Wizer.builder().build().run(manyGlobals);
  }

  @Benchmark
  public byte[] boundedWalk() {
    WasmBounds.check(walked);
    return walked;
  }

  /** {@code n} mutable i32 globals exported as g0..g(n-1); the init sets global i to i + 1. */
  static byte[] manyExportedGlobals(int n) {
    ByteArrayOutputStream globals = new ByteArrayOutputStream();
    ByteArrayOutputStream exports = new ByteArrayOutputStream();
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    body.write(0); // no locals
    for (int i = 0; i < n; i++) {
      globals.writeBytes(new byte[] {0x7f, 1, 0x41, 0, 0x0b}); // (mut i32) (i32.const 0)
      name(exports, "g" + i);
      exports.write(3); // global
      leb(exports, i);
      body.write(0x41); // i32.const i + 1
      sleb(body, i + 1);
      body.write(0x24); // global.set i
      leb(body, i);
    }
    name(exports, "wizer-initialize");
    exports.write(0);
    exports.write(0);
    body.write(0x0b);
    ByteArrayOutputStream m = new ByteArrayOutputStream();
    m.writeBytes(new byte[] {0, 'a', 's', 'm', 1, 0, 0, 0});
    section(m, 1, new byte[] {1, 0x60, 0, 0});
    section(m, 3, new byte[] {1, 0});
    section(m, 6, prefixed(n, globals));
    section(m, 7, prefixed(n + 1, exports));
    ByteArrayOutputStream code = new ByteArrayOutputStream();
    leb(code, 1);
    leb(code, body.size());
    code.writeBytes(body.toByteArray());
    section(m, 10, code.toByteArray());
    return m.toByteArray();
  }

  private static byte[] prefixed(int count, ByteArrayOutputStream entries) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    leb(b, count);
    b.writeBytes(entries.toByteArray());
    return b.toByteArray();
  }

  private static void section(ByteArrayOutputStream m, int id, byte[] payload) {
    m.write(id);
    leb(m, payload.length);
    m.writeBytes(payload);
  }

  private static void name(ByteArrayOutputStream b, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    leb(b, bytes.length);
    b.writeBytes(bytes);
  }

  private static void leb(ByteArrayOutputStream b, long v) {
    do {
      int x = (int) (v & 0x7f);
      v >>>= 7;
      b.write(v != 0 ? x | 0x80 : x);
    } while (v != 0);
  }

  private static void sleb(ByteArrayOutputStream b, long v) {
    while (true) {
      int x = (int) (v & 0x7f);
      v >>= 7;
      boolean done = (v == 0 && (x & 0x40) == 0) || (v == -1 && (x & 0x40) != 0);
      b.write(done ? x : x | 0x80);
      if (done) {
        return;
      }
    }
  }
}
