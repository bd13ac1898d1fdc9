package dev.wizer4j.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Megabytes processed (read or written, as the benchmark says), reported as a rate. */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class Throughput {
  public double megabytes;

  @Setup(Level.Iteration)
  public void reset() {
    megabytes = 0;
  }
}
