package dev.wizer4j.examples.durablerpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import dev.wizer4j.endive.EndiveInstanceState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;

/** The host's steps in one JVM: many suspend/resume rounds, and what they must not change. */
class DurableRpcTest {
  static final Path EXAMPLE = Path.of(System.getProperty("basedir", "."));
  static final Path GUEST = EXAMPLE.resolve("guest.wasm");

  @TempDir Path dir;

  /**
   * 100 rounds of resume, answer, snapshot: the state file keeps its size and its number of data
   * segments (a re-snapshot replaces the previous state instead of adding to it), every round's
   * file is byte-identical to a snapshot of one instance that was never suspended, and the result
   * equals an uninterrupted run.
   */
  @Test
  void hundredRoundsNeitherGrowNorDrift() throws IOException {
    int n = 100;
    DurableRpcHost.init(GUEST, dir);
    DurableRpcHost.Step step = DurableRpcHost.start(dir, 1, n);

    // The reference: one live instance of the same pre-initialized guest, snapshotted after each
    // call with the same options, but never written out and resumed.
    Wizer wizer = Wizer.builder().keepInstrumentation(true).build();
    ModuleContext cx = wizer.parseInstrumented(Files.readAllBytes(dir.resolve("guest.wasm")));
    Guest live = Guest.instantiate(cx.decoded(WasmModule.class).orElseThrow(), "reference");
    assertEquals(Guest.WAITING, live.start(1, n));

    List<Long> sizes = new ArrayList<>();
    List<Integer> segments = new ArrayList<>();
    for (int round = 0; round < n; round++) {
      assertFalse(step.done(), "done too early, at round " + round);
      int request = step.pending();
      assertEquals(round, request);
      long value = DurableRpcHost.remote(request);
      step = DurableRpcHost.respond(dir, 1, request, value);

      byte[] file = Files.readAllBytes(step.file());
      assertEquals(file.length, step.size());
      sizes.add(step.size());
      segments.add(Parser.parse(file).dataSection().dataSegmentCount());

      live.onResponse(request, value);
      byte[] reference = wizer.snapshot(cx, EndiveInstanceState.of(live.instance()));
      assertArrayEquals(reference, file, "round " + round + ": resumed state differs");
    }
    assertTrue(step.done());
    assertEquals(DurableRpcHost.runUninterrupted(GUEST, n), step.result());

    long min = sizes.stream().mapToLong(Long::longValue).min().orElseThrow();
    long max = sizes.stream().mapToLong(Long::longValue).max().orElseThrow();
    assertTrue(max - min <= 8, "state file size drifts: " + sizes);
    assertEquals(1, segments.stream().distinct().count(), "data segments: " + segments);
    System.out.printf(
        "durable-rpc: %d rounds, state file %d..%d bytes, %d data segments%n",
        n, min, max, segments.get(0));
  }

  @Test
  void resultIsTheWeightedSumOfTheAnswers() {
    // prime(k) * f(k) for k < 5: 2*7 + 3*8 + 5*11 + 7*16 + 11*23
    assertEquals(458, DurableRpcHost.runUninterrupted(GUEST, 5));
  }

  /** A duplicate or stale answer is refused, and the state file is left exactly as it was. */
  @Test
  void answersOnlyThePendingRequest() throws IOException {
    DurableRpcHost.init(GUEST, dir);
    DurableRpcHost.start(dir, 3, 4);
    DurableRpcHost.respond(dir, 3, 0, DurableRpcHost.remote(0));
    Path file = DurableRpcHost.taskFile(dir, 3);
    byte[] before = Files.readAllBytes(file);

    HostException stale =
        assertThrows(HostException.class, () -> DurableRpcHost.respond(dir, 3, 0, 7));
    assertEquals("task 3 waits for request 1, not request 0; nothing changed", stale.getMessage());
    assertArrayEquals(before, Files.readAllBytes(file));

    for (int k = 1; k < 4; k++) {
      DurableRpcHost.respond(dir, 3, k, DurableRpcHost.remote(k));
    }
    byte[] done = Files.readAllBytes(file);
    HostException late =
        assertThrows(HostException.class, () -> DurableRpcHost.respond(dir, 3, 4, 1));
    assertTrue(late.getMessage().startsWith("task 3 is already done"), late.getMessage());
    assertArrayEquals(done, Files.readAllBytes(file));
    assertEquals(DurableRpcHost.runUninterrupted(GUEST, 4), DurableRpcHost.status(dir, 3).result());
    try (var files = Files.list(dir)) {
      assertEquals(
          List.of("3.wasm", "guest.wasm"),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  /** The same task driven the same way gives byte-identical state files. */
  @Test
  void stateFilesAreDeterministic() throws IOException {
    Path a = Files.createDirectory(dir.resolve("a"));
    Path b = Files.createDirectory(dir.resolve("b"));
    for (Path d : List.of(a, b)) {
      DurableRpcHost.init(GUEST, d);
      DurableRpcHost.start(d, 5, 3);
      DurableRpcHost.respond(d, 5, 0, DurableRpcHost.remote(0));
    }
    assertArrayEquals(
        Files.readAllBytes(a.resolve("guest.wasm")), Files.readAllBytes(b.resolve("guest.wasm")));
    assertArrayEquals(
        Files.readAllBytes(a.resolve("5.wasm")), Files.readAllBytes(b.resolve("5.wasm")));
  }

  /** The committed guest.wasm is what build.sh makes from guest.wat. */
  @Test
  void committedGuestIsBuiltFromItsSource() throws Exception {
    Path out = dir.resolve("guest.wasm");
    Process p;
    try {
      p =
          new ProcessBuilder(
                  "wat2wasm", EXAMPLE.resolve("guest.wat").toString(), "-o", out.toString())
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      Assumptions.abort("wat2wasm is not installed (apt-get install wabt)");
      return;
    }
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), log);
    assertArrayEquals(
        Files.readAllBytes(out), Files.readAllBytes(GUEST), "guest.wasm is stale: run ./build.sh");
  }
}
