package dev.wizer4j.examples.durablerpc;

import dev.wizer4j.durable.DirectoryStore;
import dev.wizer4j.durable.DurableException;
import dev.wizer4j.durable.DurableHost;
import dev.wizer4j.durable.JdbcStore;
import dev.wizer4j.durable.SnapshotStore;
import dev.wizer4j.durable.TaskStatus;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import run.endive.runtime.Instance;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;

/**
 * A durable-execution host on wizer4j-durable: runs a guest task until it only waits for the
 * outside world, saves its state to a store, and exits; a later process resumes the task from the
 * store when an answer arrives. Each step is a separate process, as it would be after a crash, a
 * deploy, or a move to another machine.
 *
 * <pre>
 * init GUEST.wasm STORE                    pre-initialize GUEST and keep it in STORE
 * start STORE TASK N                       begin task TASK, which needs N answers
 * respond STORE TASK REQUEST VALUE         deliver the answer VALUE to request REQUEST
 * status STORE TASK                        show where task TASK stands (runs nothing)
 * list STORE                               every task: generation, size, deltas
 * compact STORE TASK                       rewrite task TASK as one full state (runs nothing)
 * delete STORE TASK                        forget task TASK
 * materialize STORE TASK OUT.wasm          task TASK as a full module, runnable anywhere
 * run-uninterrupted GUEST.wasm N           the same task in one process, for comparison
 * </pre>
 *
 * <p>STORE is a directory ({@link DirectoryStore}) or a JDBC URL ({@code jdbc:h2:file:...}, {@code
 * jdbc:postgresql://...}: {@link JdbcStore}); {@code --store URL} before the command names it
 * instead of the STORE argument, and {@code --full-states} makes every step save a full state
 * instead of a delta.
 */
public final class DurableRpcHost {
  /** Exit status of a step that lost a race with another worker: try again. */
  static final int CONFLICT = 3;

  private DurableRpcHost() {}

  /**
   * The "remote service" of this example: the answer to request {@code k}. Drivers compute it
   * (run.sh does it in the shell); the guest only ever receives it.
   */
  static long remote(int request) {
    return (long) request * request + 7;
  }

  static SnapshotStore open(String store) {
    return store.startsWith("jdbc:") ? JdbcStore.open(store) : new DirectoryStore(Path.of(store));
  }

  /** A host that runs the one guest of {@code store}; null guest if it has none yet. */
  private static DurableHost host(SnapshotStore store) {
    return host(store, false);
  }

  /**
   * As {@link #host(SnapshotStore)}; with {@code fullStates} every step saves the task's full state
   * (a delta budget of 0 bytes), so that a task is always exactly one state, never a state and
   * deltas.
   */
  private static DurableHost host(SnapshotStore store, boolean fullStates) {
    List<String> guests = store.guests();
    DurableHost.Builder b = DurableHost.builder().store(store);
    if (fullStates) {
      b.deltaBytes(0);
    }
    if (guests.size() == 1) {
      b.guest(guests.get(0));
    }
    return b.build();
  }

  private static String guest(SnapshotStore store) {
    List<String> guests = store.guests();
    if (guests.isEmpty()) {
      throw new HostException("the store has no guest: run `init` first");
    }
    if (guests.size() > 1) {
      throw new HostException("the store has " + guests.size() + " guests; this host runs one");
    }
    return guests.get(0);
  }

  /** Pre-initializes {@code guestWasm} (the prime table is built here, once) into the store. */
  static String init(Path guestWasm, SnapshotStore store) {
    byte[] input = read(guestWasm);
    if (!store.guests().isEmpty()) {
      throw new HostException("the store has a guest already");
    }
    String hash = host(store).register(input);
    return "pre-initialized " + guestWasm + " as guest " + hash.substring(0, 12);
  }

  /** Starts a task; its first save is a full state, whatever {@code --full-states} says. */
  static TaskStatus start(SnapshotStore store, int task, int n) {
    String guest = guest(store);
    return host(store)
        .start(
            guest,
            Integer.toString(task),
            g -> {
              if (g.call("start", task, n) < 0) {
                throw new HostException(
                    "the guest refused task " + task + " with N = " + n + " (N must be 1..1000)");
              }
            });
  }

  /**
   * Resumes task {@code task}, delivers the answer to {@code request}, and saves the task again.
   * The answer must be for the request the task waits for: a duplicate or stale answer (for example
   * from a driver that retries a step it already made) is refused and nothing is saved.
   */
  static TaskStatus respond(SnapshotStore store, int task, int request, long value) {
    return respond(store, false, task, request, value);
  }

  /** As {@link #respond(SnapshotStore, int, int, long)}; {@code fullStates}: save no delta. */
  static TaskStatus respond(
      SnapshotStore store, boolean fullStates, int task, int request, long value) {
    return host(store, fullStates)
        .step(
            Integer.toString(task),
            g -> {
              TaskStatus before = g.before();
              if (before.done()) {
                throw new HostException(
                    "task " + task + " is already done (result " + before.result() + ")");
              }
              if (before.request() != request) {
                throw new HostException(
                    "task "
                        + task
                        + " waits for request "
                        + before.request()
                        + ", not request "
                        + request
                        + "; nothing changed");
              }
              if (g.call("on_response", request, value) < 0) {
                throw new HostException(
                    "the guest refused the answer to request " + request + "; nothing changed");
              }
            });
  }

  static TaskStatus status(SnapshotStore store, int task) {
    return host(store).status(Integer.toString(task));
  }

  /**
   * One line per task: its generation, the bytes stored for it and how many of those saves are
   * deltas on top of its full state, as the store lists them (no state is read or verified).
   */
  static List<String> list(SnapshotStore store) {
    List<String> lines = new ArrayList<>();
    for (SnapshotStore.TaskInfo t : store.list()) {
      lines.add(
          "task "
              + t.task()
              + ": generation "
              + t.generation()
              + ", "
              + t.size()
              + " bytes ("
              + savesOf(t.deltas())
              + "), updated "
              + t.updated());
    }
    return lines;
  }

  private static String savesOf(int deltas) {
    return switch (deltas) {
      case 0 -> "full state, no deltas";
      case 1 -> "full state + 1 delta";
      default -> "full state + " + deltas + " deltas";
    };
  }

  /**
   * Rewrites task {@code task} as one full state, dropping its deltas; runs no guest code. A task
   * with no deltas is left as it is.
   */
  static String compact(SnapshotStore store, int task) {
    String name = Integer.toString(task);
    // Only for the message: compact() loads and verifies the task again, and its compare-and-swap
    // settles any step saved in between.
    SnapshotStore.Stored before =
        store.load(name).orElseThrow(() -> new HostException("no task " + task + " in the store"));
    TaskStatus after = host(store).compact(name);
    if (after.generation() == before.generation()) {
      return "task "
          + task
          + ": no deltas to compact (generation "
          + after.generation()
          + ", "
          + after.size()
          + " bytes)";
    }
    return "task "
        + task
        + ": "
        + savesOf(before.deltas().size())
        + " ("
        + before.size()
        + " bytes) compacted into one full state (generation "
        + after.generation()
        + ", "
        + after.size()
        + " bytes)";
  }

  static String delete(SnapshotStore store, int task) {
    if (!host(store).delete(Integer.toString(task))) {
      throw new HostException("no task " + task + " in the store");
    }
    return "deleted task " + task;
  }

  static String materialize(SnapshotStore store, int task, Path out) {
    byte[] module = host(store).materialize(Integer.toString(task));
    Path dir = out.toAbsolutePath().getParent();
    Path tmp = null;
    try {
      tmp = Files.createTempFile(dir, "." + out.getFileName() + ".", ".tmp");
      Files.write(tmp, module);
      Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      tmp = null;
    } catch (IOException e) {
      throw new HostException("cannot write " + out + ": " + e.getMessage(), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // the failure being reported matters more than a leftover temporary file
        }
      }
    }
    return "task " + task + " written to " + out + " (" + module.length + " bytes)";
  }

  /** Runs the task in one process, from the original guest, answering with {@link #remote}. */
  static long runUninterrupted(Path guestWasm, int n) {
    WasmModule module;
    try {
      module = Parser.parse(read(guestWasm));
    } catch (RuntimeException e) {
      throw new HostException(guestWasm + " is not a valid module: " + e.getMessage(), e);
    }
    Instance guest = Instance.builder(module).build();
    guest.export("wizer-initialize").apply();
    long status = guest.export("start").apply(0, n)[0];
    if (status < 0) {
      throw new HostException("the guest refused a task with N = " + n + " (N must be 1..1000)");
    }
    while (status == 0) {
      int request = (int) guest.export("pending_request").apply()[0];
      status = guest.export("on_response").apply(request, remote(request))[0];
    }
    return guest.export("result").apply()[0];
  }

  private static byte[] read(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new HostException(file + " does not exist", e);
    } catch (IOException e) {
      throw new HostException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  // ---------------------------------------------------------------- command line

  private static final String USAGE =
      String.join(
          "\n",
          "usage: DurableRpcHost [--store STORE] [--full-states] COMMAND ARGS",
          "       (STORE: a directory or jdbc:...; --full-states: every step saves a full state,",
          "       never a delta)",
          "       DurableRpcHost init GUEST.wasm STORE",
          "       DurableRpcHost start STORE TASK N",
          "       DurableRpcHost respond STORE TASK REQUEST VALUE",
          "       DurableRpcHost status STORE TASK",
          "       DurableRpcHost list STORE",
          "       DurableRpcHost compact STORE TASK",
          "       DurableRpcHost delete STORE TASK",
          "       DurableRpcHost materialize STORE TASK OUT.wasm",
          "       DurableRpcHost run-uninterrupted GUEST.wasm N");

  /** A mistake in the command line: exit status 2. */
  private static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final boolean showUsage;

    UsageException(String message, boolean showUsage) {
      super(message);
      this.showUsage = showUsage;
    }
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs one command; returns the exit status (0 ok, 1 failed step, 2 bad command line, 3 lost a
   * race with another worker: nothing was saved, try again).
   */
  static int run(String[] args, PrintStream out, PrintStream err) {
    try {
      for (String line : execute(args)) {
        out.println(line);
      }
      return 0;
    } catch (UsageException e) {
      err.println("error: " + e.getMessage());
      if (e.showUsage) {
        err.println(USAGE);
      }
      return 2;
    } catch (DurableException.Conflict e) {
      err.println("error: " + e.getMessage());
      return CONFLICT;
    } catch (HostException | DurableException e) {
      err.println("error: " + oneLine(e.getMessage()));
      return 1;
    } catch (RuntimeException | StackOverflowError e) {
      err.println(
          "error: unexpected " + e.getClass().getSimpleName() + ": " + oneLine(e.getMessage()));
      return 1;
    }
  }

  private static String oneLine(String s) {
    return s == null ? "" : s.strip().replace('\n', ' ').replace('\r', ' ');
  }

  /** Where each command takes STORE, so that {@code --store URL} can stand in for it. */
  private static int storeArgument(String command) {
    return switch (command) {
      case "init" -> 2;
      case "run-uninterrupted" -> -1;
      default -> 1;
    };
  }

  private static List<String> execute(String[] argv) {
    List<String> args = new ArrayList<>(List.of(argv));
    String storeOption = null;
    boolean fullStates = false;
    while (!args.isEmpty() && args.get(0).startsWith("--")) {
      String option = args.remove(0);
      if (option.equals("--full-states")) {
        fullStates = true;
      } else if (option.startsWith("--store=")) {
        storeOption = option.substring("--store=".length());
      } else if (option.equals("--store")) {
        if (args.isEmpty()) {
          throw new UsageException("--store needs a value", true);
        }
        storeOption = args.remove(0);
      } else {
        throw new UsageException("unknown option `" + option + "`", true);
      }
    }
    if (args.isEmpty()) {
      throw new UsageException("no command given", true);
    }
    String command = args.get(0);
    if (storeOption != null) {
      int at = storeArgument(command);
      if (at < 0) {
        throw new UsageException("`" + command + "` takes no store", true);
      }
      args.add(Math.min(at, args.size()), storeOption);
    }
    switch (command) {
      case "init" -> {
        arity(args, 2);
        try (SnapshotStore store = open(args.get(2))) {
          return List.of(init(Path.of(args.get(1)), store));
        }
      }
      case "start" -> {
        arity(args, 3);
        try (SnapshotStore store = open(args.get(1))) {
          return List.of(start(store, task(args.get(2)), intArg("N", args.get(3))).describe());
        }
      }
      case "respond" -> {
        arity(args, 4);
        int task = task(args.get(2));
        int request = intArg("REQUEST", args.get(3));
        long value = longArg("VALUE", args.get(4));
        try (SnapshotStore store = open(args.get(1))) {
          return List.of(respond(store, fullStates, task, request, value).describe());
        }
      }
      case "status" -> {
        arity(args, 2);
        try (SnapshotStore store = open(args.get(1))) {
          return List.of(status(store, task(args.get(2))).describe());
        }
      }
      case "list" -> {
        arity(args, 1);
        try (SnapshotStore store = open(args.get(1))) {
          return list(store);
        }
      }
      case "compact" -> {
        arity(args, 2);
        try (SnapshotStore store = open(args.get(1))) {
          return List.of(compact(store, task(args.get(2))));
        }
      }
      case "delete" -> {
        arity(args, 2);
        try (SnapshotStore store = open(args.get(1))) {
          return List.of(delete(store, task(args.get(2))));
        }
      }
      case "materialize" -> {
        arity(args, 3);
        try (SnapshotStore store = open(args.get(1))) {
          return List.of(materialize(store, task(args.get(2)), Path.of(args.get(3))));
        }
      }
      case "run-uninterrupted" -> {
        arity(args, 2);
        return List.of(
            "uninterrupted: result "
                + runUninterrupted(Path.of(args.get(1)), intArg("N", args.get(2))));
      }
      default -> throw new UsageException("unknown command `" + command + "`", true);
    }
  }

  private static void arity(List<String> args, int n) {
    if (args.size() - 1 != n) {
      throw new UsageException(
          "`" + args.get(0) + "` takes " + n + " arguments, got " + (args.size() - 1), true);
    }
  }

  private static int task(String s) {
    int task = intArg("TASK", s);
    if (task < 0) {
      throw new UsageException("TASK must be a non-negative integer, got `" + s + "`", false);
    }
    return task;
  }

  private static int intArg(String name, String s) {
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw new UsageException(name + " must be an integer, got `" + s + "`", false);
    }
  }

  private static long longArg(String name, String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new UsageException(name + " must be an integer, got `" + s + "`", false);
    }
  }
}
