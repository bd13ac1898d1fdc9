package dev.wizer4j.durable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Two processes answer the same request of the same task at the same moment, each from the same
 * loaded generation: exactly one saves, the other gets a conflict, and the task then ends exactly
 * like an uninterrupted run (the answer was applied once, not twice and not lost).
 */
class ConcurrentProcessesTest {
  @TempDir Path tmp;

  static Stream<Stores.Kind> kinds() {
    return Stores.kinds();
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void twoProcessesRespondingAtOnceOneWinsOneConflicts(Stores.Kind kind) throws Exception {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      DurableHost host = DurableHost.builder().store(s.store()).build();
      String guest = host.register(Guests.wasm());
      int n = 4;
      Guests.start(host, guest, "shared", n, 65536);
      Guests.answerNext(host, "shared"); // generation 2, waiting for request 1

      Path ready = Files.createDirectories(tmp.resolve("ready"));
      List<Process> ps = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        ps.add(
            new ProcessBuilder(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp",
                    System.getProperty("java.class.path"),
                    StepProcess.class.getName(),
                    s.spec(),
                    "shared",
                    "1",
                    Long.toString(Guests.answer(1)),
                    ready.toString(),
                    "p" + i,
                    "2")
                .redirectErrorStream(true)
                .start());
      }
      List<Integer> exits = new ArrayList<>();
      List<String> outs = new ArrayList<>();
      for (Process p : ps) {
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new AssertionError("a step process did not finish");
        }
        exits.add(p.exitValue());
        outs.add(out);
      }
      exits.sort(null);
      assertEquals(List.of(0, 3), exits, "exit statuses; outputs: " + outs);
      assertTrue(outs.stream().anyMatch(o -> o.equals("saved generation 3")), outs.toString());
      assertTrue(
          outs.stream()
              .anyMatch(
                  o ->
                      o.contains("conflict, expected generation 2 but the store has generation 3")),
          outs.toString());

      assertEquals(3, s.store().load("shared").orElseThrow().generation());
      TaskStatus st = host.status("shared");
      assertEquals(2, st.request());
      while (!st.done()) {
        st = Guests.answerNext(host, "shared");
      }
      assertEquals(Guests.uninterrupted(n, 65536).result(), st.result());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }
}
