package dev.wizer4j.durable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * One step of a task in its own process, for {@link ConcurrentProcessesTest}: answers REQUEST with
 * VALUE, and between running the guest and saving waits until every process named in READY_DIR's
 * count has got that far, so that all of them save from the same loaded generation.
 *
 * <pre>StepProcess STORE_SPEC TASK REQUEST VALUE READY_DIR ID PROCESSES</pre>
 *
 * <p>Prints one line; exits 0 when it saved, 3 on a conflict, 1 on anything else.
 */
public final class StepProcess {
  private StepProcess() {}

  public static void main(String[] args) throws Exception {
    String task = args[1];
    long request = Long.parseLong(args[2]);
    long value = Long.parseLong(args[3]);
    Path ready = Path.of(args[4]);
    String id = args[5];
    int processes = Integer.parseInt(args[6]);
    try (SnapshotStore store = Stores.fromSpec(args[0])) {
      DurableHost host = DurableHost.builder().store(store).build();
      TaskStatus st =
          host.step(
              task,
              g -> {
                if (g.before().request() != request) {
                  throw new IllegalStateException("task waits for " + g.before().request());
                }
                g.call("on_response", request, value);
                barrier(ready, id, processes);
              });
      System.out.println("saved generation " + st.generation());
      System.exit(0);
    } catch (DurableException.Conflict e) {
      System.out.println(e.getMessage());
      System.exit(3);
    } catch (RuntimeException e) {
      System.out.println("failed: " + e);
      System.exit(1);
    }
  }

  private static void barrier(Path dir, String id, int processes) {
    try {
      Files.createFile(dir.resolve(id));
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (true) {
        try (Stream<Path> s = Files.list(dir)) {
          if (s.count() >= processes) {
            return;
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the other processes never got ready");
        }
        Thread.sleep(5);
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
