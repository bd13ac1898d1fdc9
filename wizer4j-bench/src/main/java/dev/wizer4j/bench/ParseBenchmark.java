package dev.wizer4j.bench;

import dev.wizer4j.Instrumented;
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
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;

/**
 * Parse and validate throughput: {@code Wizer.instrument(bytes)} (section index, decoding of the
 * sections the rewrite changes, Endive's parser and validator over every function body, the
 * snapshot rules, instrumentation) next to Endive's {@code Parser.parse} alone, which is most of
 * it. The {@code megabytes} line is input megabytes (10^6 bytes) per second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class ParseBenchmark {
  /** ruby.wasm if bench/run.sh installed it, else the largest fixture; or a name or path. */
  @Param({"largest"})
  public String module;

  private byte[] wasm;
  private Wizer wizer;

  @Setup
  public void setup() {
    wasm = Inputs.module(module);
    wizer = Wizer.builder().build();
  }

  @Benchmark
  public Instrumented instrument(Throughput t) {
    Instrumented out = wizer.instrument(wasm);
    t.megabytes += wasm.length / 1e6;
    return out;
  }

  @Benchmark
  public WasmModule endiveParse(Throughput t) {
    WasmModule m = Parser.parse(wasm);
    t.megabytes += wasm.length / 1e6;
    return m;
  }
}
