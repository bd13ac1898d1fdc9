package dev.wizer4j.bench;

import dev.wizer4j.InstanceState;
import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import java.util.Arrays;
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
 * Rewrite and encode throughput of {@code wizer.snapshot(cx, state)} with a state that is not a
 * runtime (see {@link Inputs#fixedState}), so that no engine is measured. The {@code megabytes}
 * line is output megabytes (10^6 bytes) per second; {@code copyFloor} allocates and fills an array
 * of the output's size with one copy, the least any encoder can do.
 *
 * <ul>
 *   <li>{@code sections}: the largest module (ruby.wasm when installed) with one page of memory
 *       holding 16 bytes: almost all of the output is sections copied from the input, plus every
 *       original data segment turned into an empty passive one.
 *   <li>{@code segments}: a small module whose 4 MiB memory holds 10,000 clusters of 240 bytes 100
 *       bytes apart: the cost of encoding many segments (the most a snapshot may have).
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class RewriteBenchmark {
  @Param({"sections", "segments"})
  public String shape;

  private Wizer wizer;
  private ModuleContext cx;
  private InstanceState state;
  private byte[] sameSize;

  @Setup
  public void setup() {
    wizer = Wizer.builder().build();
    byte[] memory;
    if (shape.equals("sections")) {
      cx = wizer.instrument(Inputs.module("largest")).context();
      memory = new byte[Inputs.PAGE];
      for (int i = 0; i < 16; i++) {
        memory[1024 + i] = (byte) (i + 1);
      }
    } else {
      cx = wizer.instrument(Inputs.memoryModule(64)).context();
      memory = new byte[64 * Inputs.PAGE];
      for (int s = 0; s < 10_000; s++) {
        for (int i = 0; i < 240; i++) {
          memory[s * 340 + i] = (byte) (1 + (s + i) % 255);
        }
      }
    }
    state = Inputs.fixedState(memory);
    sameSize = wizer.snapshot(cx, state);
  }

  @Benchmark
  public byte[] snapshot(Throughput t) {
    byte[] out = wizer.snapshot(cx, state);
    t.megabytes += out.length / 1e6;
    return out;
  }

  @Benchmark
  public byte[] copyFloor(Throughput t) {
    byte[] out = Arrays.copyOf(sameSize, sameSize.length);
    t.megabytes += out.length / 1e6;
    return out;
  }
}
