package dev.wizer4j.bench;

import dev.wizer4j.Instrumented;
import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import dev.wizer4j.endive.EndiveInstanceState;
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
import run.endive.runtime.ByteArrayMemory;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.wasm.Parser;

/**
 * Snapshot of a live Endive instance, next to the physical floor of the same work.
 *
 * <ul>
 *   <li>{@code sparse64m}: 64 MiB of memory, 1 MiB of it written in heap-like clusters.
 *   <li>{@code dirty16m}: 16 MiB, every byte non-zero (one 16 MiB segment).
 * </ul>
 *
 * {@code snapshot} is {@code wizer.snapshot(cx, EndiveInstanceState.of(instance))}: scan, copy of
 * the non-zero regions, rewrite of the (tiny) module. {@code zeroScanFloor} reads the same bytes
 * once with {@code Arrays.mismatch} against a zero block (what finding the zeros costs at the
 * least); {@code copyFloor} copies them once (what moving every byte into the output costs at the
 * least, the floor for a dirty memory).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class SnapshotScanBenchmark {
  @Param({"sparse64m", "dirty16m"})
  public String layout;

  /**
   * Endive's memory implementation: {@code bytebuffer} is its default (what {@code bin/wizer4j}
   * gets today), which {@code EndiveInstanceState} copies page by page; {@code bytearray} is {@code
   * ByteArrayMemory}, whose pages it lends without copying.
   */
  @Param({"bytebuffer", "bytearray"})
  public String memory;

  private static final int BLOCK = 4096;
  private static final byte[] ZEROS = new byte[BLOCK];

  private Wizer wizer;
  private ModuleContext cx;
  private Instance instance;
  private byte[] flat;

  @Setup
  public void setup() {
    boolean sparse = layout.equals("sparse64m");
    int pages = sparse ? 1024 : 256;
    wizer = Wizer.builder().build();
    Instrumented inst = wizer.instrument(Inputs.memoryModule(pages));
    cx = inst.context();
    Instance.Builder builder = Instance.builder(Parser.parse(inst.wasm()));
    if (memory.equals("bytearray")) {
      builder.withMemoryFactory(ByteArrayMemory::new);
    } else if (!memory.equals("bytebuffer")) {
      throw new IllegalArgumentException("memory must be bytebuffer or bytearray: " + memory);
    }
    instance = builder.build();
    flat = new byte[pages * Inputs.PAGE];
    if (sparse) {
      Inputs.heapLike(flat, 1 << 20, 42);
    } else {
      Inputs.allDirty(flat, 42);
    }
    Memory mem = instance.memory();
    mem.write(0, flat);
  }

  @Benchmark
  public byte[] snapshot() {
    return wizer.snapshot(cx, EndiveInstanceState.of(instance));
  }

  @Benchmark
  public int zeroScanFloor() {
    int nonZeroBlocks = 0;
    for (int off = 0; off < flat.length; off += BLOCK) {
      if (Arrays.mismatch(flat, off, off + BLOCK, ZEROS, 0, BLOCK) >= 0) {
        nonZeroBlocks++;
      }
    }
    return nonZeroBlocks;
  }

  @Benchmark
  public byte[] copyFloor() {
    return Arrays.copyOf(flat, flat.length);
  }
}
