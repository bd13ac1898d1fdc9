package dev.wizer4j.durable;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;

/** The test guest (guest.wat) and an uninterrupted run of it, the reference for every test. */
final class Guests {
  static final int MAX_PAGES = 64;

  private Guests() {}

  static byte[] wasm() {
    try (InputStream in = Guests.class.getResourceAsStream("/guest.wasm")) {
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The remote service of the tests: the answer to request k. */
  static long answer(long k) {
    return k * k + 7;
  }

  /** The result and ballast hash of a task run in one instance, never suspended. */
  record Reference(long result, long ballastHash) {}

  static Reference uninterrupted(int n, int fill) {
    Instance i = Instance.builder(Parser.parse(wasm())).build();
    i.export("wizer-initialize").apply();
    if (i.export("start").apply(n, fill)[0] != 0) {
      throw new IllegalStateException("start refused");
    }
    for (long k = 0; k < n; k++) {
      i.export("on_response").apply(k, answer(k));
    }
    return new Reference(
        i.export("durable_result").apply()[0], i.export("ballast_hash").apply()[0]);
  }

  /** Starts a task that needs {@code n} answers and carries {@code fill} bytes of ballast. */
  static TaskStatus start(DurableHost host, String guest, String task, int n, int fill) {
    return host.start(guest, task, g -> g.call("start", n, fill));
  }

  /** Delivers the answer to the request the task waits for. */
  static TaskStatus answerNext(DurableHost host, String task) {
    return host.step(
        task,
        g -> {
          long k = g.before().request();
          if (g.call("on_response", k, answer(k)) < 0) {
            throw new IllegalStateException("refused");
          }
        });
  }
}
