package dev.wizer4j.bench;

import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import dev.wizer4j.durable.DirectoryStore;
import dev.wizer4j.durable.DurableHost;
import dev.wizer4j.durable.JdbcStore;
import dev.wizer4j.durable.SnapshotStore;
import dev.wizer4j.durable.TaskStatus;
import dev.wizer4j.endive.EndiveInstanceState;
import dev.wizer4j.endive.EndiveRuntime;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import run.endive.runtime.Instance;
import run.endive.wasm.WasmModule;

/**
 * One warm step of a durable task whose state holds 2 MiB of non-zero memory: load the state,
 * resume the guest, deliver one answer, snapshot, save. The guest is wizer4j-durable's test guest
 * ({@code wizer4j-durable/src/test/resources/guest.wat}) with 2 MiB of ballast.
 *
 * <ul>
 *   <li>{@code store=before}: the path of the durable-rpc example before wizer4j-durable: the state
 *       is a whole instrumented module in a file; a step reads it, validates it in full,
 *       instantiates it, delivers, snapshots it into a new module, validates that again, and writes
 *       it (temporary file, fsync, rename, directory fsync). It runs with the parse cache off
 *       ({@code wizer4j.parseCache.disable}), which did not exist then and would skip the first
 *       validation.
 *   <li>{@code store=directory}, {@code h2}, {@code postgres}: {@link DurableHost#step} with a
 *       {@link DirectoryStore}, embedded H2 ({@code jdbc:h2:file:}), or the PostgreSQL named by
 *       {@code WIZER4J_TEST_POSTGRES_URL} (not in the default parameters: pass {@code -p
 *       store=postgres}).
 * </ul>
 *
 * <p>{@code step} is the whole step; {@code load} only what happens before the guest runs (read and
 * verify: for {@code before}, read and validate the module; for the library, read, checksum and
 * check the state against its guest), so that {@code step - load} is resume, deliver, snapshot and
 * save.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DurableStepBenchmark {
  static final int BALLAST = 2 << 20;
  static final String TASK = "bench";

  @Param({"before", "directory", "h2"})
  public String store;

  /**
   * {@code dense}: 2 MiB of random non-zero bytes, one segment. {@code sparse}: the same 2 MiB with
   * the last 16 bytes of every 64 zeroed, like objects on a heap: 32,768 runs, which a snapshot
   * merges into its cap of 10,000 segments.
   */
  @Param({"dense", "sparse"})
  public String shape;

  /**
   * How much a task may keep in deltas before a step writes its full state again: {@code default}
   * (DurableHost's defaults: 1/8 of the full state, at most 64 deltas), or a number of bytes
   * ({@link DurableHost.Builder#maxDeltaBytes}; 0 = a full state every step). Unused by {@code
   * before}.
   */
  @Param({"default"})
  public String deltas;

  private Path tmp;
  private long mostStored;
  private SnapshotStore snapshotStore;
  private DurableHost host;

  // The path before wizer4j-durable.
  private Wizer wizer;
  private Path stateFile;

  @Setup
  public void setup() throws IOException {
    tmp = Files.createTempDirectory("durable-bench");
    byte[] guest =
        Inputs.module(
            Inputs.root().resolve("wizer4j-durable/src/test/resources/guest.wasm").toString());
    if (store.equals("before")) {
      // That path had no parse cache: each step validated the module it read and the one it
      // wrote. Today's cache would find the module written by one step when the next reads it.
      System.setProperty("wizer4j.parseCache.disable", "true");
      wizer = Wizer.builder().keepInstrumentation(true).runtime(new EndiveRuntime()).build();
      byte[] ready = wizer.run(guest);
      ModuleContext cx = wizer.parseInstrumented(ready);
      Instance instance = Instance.builder(cx.decoded(WasmModule.class).orElseThrow()).build();
      instance.export("start").apply(1_000_000, BALLAST);
      shape(instance);
      stateFile = tmp.resolve("task.wasm");
      writeAtomically(stateFile, wizer.snapshot(cx, EndiveInstanceState.of(instance)));
      return;
    }
    snapshotStore =
        switch (store) {
          case "directory" -> new DirectoryStore(tmp.resolve("store"));
          case "h2" -> JdbcStore.open("jdbc:h2:file:" + tmp.resolve("db").toAbsolutePath());
          case "postgres" -> {
            String url = System.getenv("WIZER4J_TEST_POSTGRES_URL");
            if (url == null) {
              throw new IllegalStateException("set WIZER4J_TEST_POSTGRES_URL for store=postgres");
            }
            yield JdbcStore.open(url, "bench_" + ProcessHandle.current().pid());
          }
          default -> throw new IllegalArgumentException("unknown store " + store);
        };
    DurableHost.Builder b = DurableHost.builder().store(snapshotStore);
    if (deltas.equals("1/8")) {
      b.deltaRatio(0.125);
    } else if (!deltas.equals("default")) {
      b.deltaBytes(Long.parseLong(deltas));
    }
    host = b.build();
    String hash = host.register(guest);
    host.start(
        hash,
        TASK,
        g -> {
          g.call("start", 1_000_000, BALLAST);
          shape(g.instance());
        });
    if (host.status(TASK).size() < BALLAST * 3 / 4) {
      throw new IllegalStateException("the state is smaller than its ballast");
    }
  }

  private void shape(Instance instance) {
    if (shape.equals("sparse") && instance.export("thin").apply(48, 64)[0] != 0) {
      throw new IllegalStateException("thin refused");
    }
  }

  @TearDown
  public void tearDown() throws IOException {
    if (snapshotStore != null) {
      // What the task costs in the store: its full state and the deltas after it, against the
      // non-zero bytes of its memory (a compacted copy's memory, read back as a module).
      SnapshotStore.Stored stored = snapshotStore.load(TASK).orElseThrow();
      long nonZero = nonZero(host.materialize(TASK));
      System.out.printf(
          "%n# stored: full state %d bytes + %d deltas of %d bytes; non-zero memory %d bytes;"
              + " the most stored after a step: %d bytes%n",
          stored.bytes().length,
          stored.deltas().size(),
          stored.size() - stored.bytes().length,
          nonZero,
          mostStored);
      snapshotStore.delete(TASK, -1);
      snapshotStore.close();
      if (snapshotStore instanceof JdbcStore jdbc && store.equals("postgres")) {
        // A table per run: leave none behind in the shared database.
        try (java.sql.Connection c =
                java.sql.DriverManager.getConnection(System.getenv("WIZER4J_TEST_POSTGRES_URL"));
            java.sql.Statement st = c.createStatement()) {
          st.execute("DROP TABLE " + jdbc.table());
          st.execute("DROP TABLE " + jdbc.deltasTable());
        } catch (java.sql.SQLException e) {
          throw new IllegalStateException("cannot drop the benchmark's tables", e);
        }
      }
    }
    try (Stream<Path> files = Files.walk(tmp)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static long nonZero(byte[] module) {
    Instance i = Instance.builder(run.endive.wasm.Parser.parse(module)).build();
    var mem = i.memory(0);
    byte[] all = mem.readBytes(0, mem.pages() * 65536);
    long n = 0;
    for (byte b : all) {
      if (b != 0) {
        n++;
      }
    }
    return n;
  }

  @Benchmark
  public long step() throws IOException {
    if (store.equals("before")) {
      return stepBefore();
    }
    TaskStatus st =
        host.step(
            TASK,
            g -> {
              long k = g.before().request();
              g.call("on_response", k, k * k + 7);
            });
    mostStored = Math.max(mostStored, st.size());
    return st.generation();
  }

  @Benchmark
  public long load() throws IOException {
    if (store.equals("before")) {
      return wizer.parseInstrumented(Files.readAllBytes(stateFile)).instrumented() ? 1 : 0;
    }
    return host.status(TASK).generation();
  }

  /** The durable-rpc example's `respond` before wizer4j-durable, on the same guest. */
  private long stepBefore() throws IOException {
    byte[] bytes = Files.readAllBytes(stateFile);
    ModuleContext cx = wizer.parseInstrumented(bytes); // validated in full
    Instance instance = Instance.builder(cx.decoded(WasmModule.class).orElseThrow()).build();
    long k = instance.export("durable_status").apply()[0];
    instance.export("on_response").apply(k, k * k + 7);
    byte[] next = wizer.snapshot(cx, EndiveInstanceState.of(instance));
    wizer.parseInstrumented(next); // never store a state that could not be resumed
    writeAtomically(stateFile, next);
    return next.length;
  }

  private static void writeAtomically(Path target, byte[] bytes) {
    Path dir = target.toAbsolutePath().getParent();
    try {
      Path tmp = Files.createTempFile(dir, ".state.", ".tmp");
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
        ch.force(true);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
