package dev.wizer4j.bench;

import dev.wizer4j.Wizer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/**
 * What pre-initialization buys on Endive: from the bytes of a module to the answer of its first
 * call. {@code resumeSnapshot} parses the pre-initialized module, instantiates it and makes the
 * call; {@code initOriginal} parses the original, instantiates it, calls {@code _initialize} and
 * {@code wizer-initialize} (what the snapshot saves) and makes the same call. Both run on Endive's
 * interpreter; parsing is included because a resumed module is read from a file.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class ResumeBenchmark {
  /** A fixture from fixtures/wasm whose init needs no imports. */
  @Param({"primes", "ctors", "sparse"})
  public String fixture;

  private byte[] original;
  private byte[] snapshot;
  private String query;
  private long[] args;

  @Setup
  public void setup() {
    original = Inputs.module(fixture);
    snapshot = Wizer.builder().build().run(original);
    switch (fixture) {
      case "primes" -> {
        query = "nth";
        args = new long[] {100_000};
      }
      case "ctors" -> {
        query = "size";
        args = new long[0];
      }
      case "sparse" -> {
        query = "get";
        args = new long[] {1_000_000};
      }
      case "grow" -> {
        query = "last_byte";
        args = new long[0];
      }
      default -> throw new IllegalArgumentException("no query known for fixture " + fixture);
    }
    long a = initOriginal();
    long b = resumeSnapshot();
    if (a != b) {
      throw new IllegalStateException(query + " answers " + a + " originally, " + b + " resumed");
    }
  }

  @Benchmark
  public long resumeSnapshot() {
    Instance instance = Instance.builder(Parser.parse(snapshot)).build();
    return instance.export(query).apply(args)[0];
  }

  @Benchmark
  public long initOriginal() {
    Instance instance = Instance.builder(Parser.parse(original)).build();
    instance.export("_initialize").apply();
    instance.export("wizer-initialize").apply();
    return instance.export(query).apply(args)[0];
  }
}
