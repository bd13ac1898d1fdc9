package dev.wizer4j.examples.durablerpc;

import dev.wizer4j.ModuleContext;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.endive.EndiveInstanceState;
import dev.wizer4j.endive.EndiveRuntime;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import run.endive.wasm.Parser;
import run.endive.wasm.WasmModule;

/**
 * A durable-execution host: runs a guest task until it only waits for the outside world, snapshots
 * the live instance to a file, and exits; a later process resumes the task from the file when an
 * answer arrives. Each step is a separate process, as it would be after a crash, a deploy, or a
 * move to another machine.
 *
 * <pre>
 * init GUEST.wasm STATE_DIR                pre-initialize GUEST into STATE_DIR/guest.wasm
 * start STATE_DIR TASK N                   begin task TASK, which needs N answers
 * respond STATE_DIR TASK REQUEST VALUE     deliver the answer VALUE to request REQUEST
 * status STATE_DIR TASK                    show what task TASK waits for (changes nothing)
 * run-uninterrupted GUEST.wasm N           the same task in one process, for comparison
 * </pre>
 *
 * <p>A task's whole state is one file, {@code STATE_DIR/TASK.wasm}: a WebAssembly module that
 * starts with the task's memory and globals in place. It keeps wizer4j's instrumentation, so the
 * instance made from it can be snapshotted again after each answer; re-snapshots replace the
 * previous state instead of adding to it, so the file does not grow. Every write goes to a
 * temporary file in the same directory that is moved over the old one only once complete: a step
 * that fails leaves the previous state as it was.
 */
public final class DurableRpcHost {
  static final String GUEST_FILE = "guest.wasm";

  /**
   * Snapshots keep the instrumentation so that they can be snapshotted again. {@code init} removes
   * the guest's {@code wizer-initialize} export, so later snapshots have no init export to remove
   * and {@code keepInitFunc} does not matter.
   */
  private static final Wizer WIZER =
      Wizer.builder().keepInstrumentation(true).runtime(new EndiveRuntime()).build();

  private DurableRpcHost() {}

  /**
   * Where a task stands after a step.
   *
   * @param pending the request the task waits for, or -1 once it is done
   * @param result the result once done (the partial sum while waiting)
   * @param size the size of the state file in bytes
   */
  record Step(int task, int pending, long result, Path file, long size) {
    boolean done() {
      return pending < 0;
    }

    /** One line for the user; a driver finds the request after "waiting for request ". */
    String describe() {
      String where = " (" + file.getFileName() + ", " + size + " bytes)";
      return done()
          ? "task " + task + ": done, result " + result + where
          : "task " + task + ": waiting for request " + pending + where;
    }
  }

  /**
   * The "remote service" of this example: the answer to request {@code k}. Drivers compute it
   * (run.sh does it in the shell); the guest only ever receives it.
   */
  static long remote(int request) {
    return (long) request * request + 7;
  }

  /** Pre-initializes {@code guestWasm} (the prime table is built here, once) into the state dir. */
  static Path init(Path guestWasm, Path stateDir) {
    byte[] input = read(guestWasm, "guest module " + guestWasm);
    byte[] out;
    try {
      out = WIZER.run(input);
    } catch (WizerException e) {
      throw new HostException("cannot pre-initialize " + guestWasm + ": " + e.getMessage(), e);
    }
    Path file = stateDir.resolve(GUEST_FILE);
    // Never store a guest that could not start a task.
    Guest.instantiate(parse(out, file).decoded(WasmModule.class).orElseThrow(), file.toString());
    try {
      Files.createDirectories(stateDir);
    } catch (IOException e) {
      throw new HostException("cannot create " + stateDir + ": " + ioMessage(e), e);
    }
    writeAtomically(file, out);
    return file;
  }

  /** Begins task {@code task} from the pre-initialized guest and saves it once it waits. */
  static Step start(Path stateDir, int task, int n) {
    Path guestFile = stateDir.resolve(GUEST_FILE);
    if (!Files.isRegularFile(guestFile)) {
      throw new HostException(
          "no pre-initialized guest in " + stateDir + " (" + guestFile + "): run `init` first");
    }
    Path file = taskFile(stateDir, task);
    if (Files.exists(file)) {
      throw new HostException("task " + task + " already exists (" + file + ")");
    }
    ModuleContext cx = parse(read(guestFile, "guest " + guestFile), guestFile);
    Guest guest =
        Guest.instantiate(cx.decoded(WasmModule.class).orElseThrow(), guestFile.toString());
    if (guest.start(task, n) == Guest.REFUSED) {
      throw new HostException(
          "the guest refused task " + task + " with N = " + n + " (N must be 1..1000)");
    }
    return save(cx, guest, task, file);
  }

  /**
   * Resumes task {@code task} from its file, delivers the answer to {@code request}, and saves the
   * task again. The answer must be for the request the task waits for: a duplicate or stale answer
   * (for example from a driver that retries a step it already made) is refused and the state file
   * is left as it was.
   */
  static Step respond(Path stateDir, int task, int request, long value) {
    Path file = taskFile(stateDir, task);
    Resumed r = resume(file, task);
    int pending = r.guest().pendingRequest();
    if (pending < 0) {
      throw new HostException(
          "task " + task + " is already done (result " + r.guest().result() + "); nothing changed");
    }
    if (request != pending) {
      throw new HostException(
          "task "
              + task
              + " waits for request "
              + pending
              + ", not request "
              + request
              + "; nothing changed");
    }
    if (r.guest().onResponse(request, value) == Guest.REFUSED) {
      throw new HostException(
          "the guest in "
              + file
              + " refused the answer to request "
              + request
              + "; nothing changed");
    }
    return save(r.cx(), r.guest(), task, file);
  }

  /** Reads where task {@code task} stands, without changing it. */
  static Step status(Path stateDir, int task) {
    Path file = taskFile(stateDir, task);
    Resumed r = resume(file, task);
    return new Step(task, r.guest().pendingRequest(), r.guest().result(), file, r.size());
  }

  /** Runs the task in one process, from the original guest, answering with {@link #remote}. */
  static long runUninterrupted(Path guestWasm, int n) {
    byte[] bytes = read(guestWasm, "guest module " + guestWasm);
    WasmModule module;
    try {
      module = Parser.parse(bytes);
    } catch (RuntimeException e) {
      throw new HostException(guestWasm + " is not a valid module: " + Guest.message(e), e);
    }
    Guest guest = Guest.instantiate(module, guestWasm.toString());
    guest.initialize();
    int status = guest.start(0, n);
    if (status == Guest.REFUSED) {
      throw new HostException("the guest refused a task with N = " + n + " (N must be 1..1000)");
    }
    while (status == Guest.WAITING) {
      int request = guest.pendingRequest();
      status = guest.onResponse(request, remote(request));
      if (status == Guest.REFUSED) {
        throw new HostException("the guest refused the answer to its own request " + request);
      }
    }
    return guest.result();
  }

  static Path taskFile(Path stateDir, int task) {
    return stateDir.resolve(task + ".wasm");
  }

  private record Resumed(ModuleContext cx, Guest guest, long size) {}

  /** Instantiates a task's snapshot: all of its state is in place, nothing runs first. */
  private static Resumed resume(Path file, int task) {
    if (!Files.exists(file)) {
      throw new HostException("no task " + task + ": " + file + " does not exist (start it first)");
    }
    byte[] bytes = read(file, "state file " + file);
    ModuleContext cx = parse(bytes, file);
    Guest guest = Guest.instantiate(cx.decoded(WasmModule.class).orElseThrow(), file.toString());
    int stored = guest.taskId();
    if (stored != task) {
      throw new HostException(file + " holds task " + stored + ", not task " + task);
    }
    return new Resumed(cx, guest, bytes.length);
  }

  /** Snapshots the live instance and replaces the task's file with it. */
  private static Step save(ModuleContext cx, Guest guest, int task, Path file) {
    byte[] snapshot;
    try {
      snapshot = WIZER.snapshot(cx, EndiveInstanceState.of(guest.instance()));
      WIZER.parseInstrumented(snapshot); // never store a state that could not be resumed
    } catch (WizerException e) {
      throw new HostException("cannot snapshot task " + task + ": " + e.getMessage(), e);
    }
    writeAtomically(file, snapshot);
    return new Step(task, guest.pendingRequest(), guest.result(), file, snapshot.length);
  }

  /** Validates {@code bytes} as an instrumented module; {@code file} names it in errors. */
  private static ModuleContext parse(byte[] bytes, Path file) {
    try {
      return WIZER.parseInstrumented(bytes);
    } catch (WizerException e) {
      throw new HostException(file + " is not a valid snapshot: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      // wizer4j reports bad input as WizerException; anything else is a bug there, but the
      // user still gets one line naming the file.
      throw new HostException(file + " is not a valid snapshot: " + Guest.message(e), e);
    }
  }

  private static byte[] read(Path file, String what) {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new HostException(what + " does not exist", e);
    } catch (IOException e) {
      throw new HostException("cannot read " + what + ": " + ioMessage(e), e);
    }
  }

  /**
   * Writes {@code bytes} to {@code target} so that a reader sees the old file or the new one, never
   * a part: write a temporary file beside it, flush it to disk, rename it over the target.
   */
  static void writeAtomically(Path target, byte[] bytes) {
    Path dir = target.toAbsolutePath().getParent();
    Path tmp = null;
    try {
      tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      tmp = null;
      syncDirectory(dir);
    } catch (IOException e) {
      throw new HostException("cannot write " + target + ": " + ioMessage(e), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // the failure being reported matters more than a leftover temporary file
        }
      }
    }
  }

  /** Makes the rename durable where the platform allows opening a directory (Linux does). */
  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      // not supported here (for example on Windows); the rename itself is still atomic
    }
  }

  private static String ioMessage(IOException e) {
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }

  // ---------------------------------------------------------------- command line

  private static final String USAGE =
      String.join(
          "\n",
          "usage: DurableRpcHost init GUEST.wasm STATE_DIR",
          "       DurableRpcHost start STATE_DIR TASK N",
          "       DurableRpcHost respond STATE_DIR TASK REQUEST VALUE",
          "       DurableRpcHost status STATE_DIR TASK",
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

  /** Runs one command; returns the exit status (0 ok, 1 failed step, 2 bad command line). */
  static int run(String[] args, PrintStream out, PrintStream err) {
    try {
      out.println(execute(args));
      return 0;
    } catch (UsageException e) {
      err.println("error: " + e.getMessage());
      if (e.showUsage) {
        err.println(USAGE);
      }
      return 2;
    } catch (HostException e) {
      err.println("error: " + e.getMessage());
      return 1;
    } catch (RuntimeException | StackOverflowError e) {
      err.println("error: unexpected " + e.getClass().getSimpleName() + ": " + Guest.message(e));
      return 1;
    }
  }

  private static String execute(String[] args) {
    if (args.length == 0) {
      throw new UsageException("no command given", true);
    }
    switch (args[0]) {
      case "init" -> {
        arity(args, 2);
        Path file = init(Path.of(args[1]), Path.of(args[2]));
        return "pre-initialized " + args[1] + " into " + file + " (" + size(file) + " bytes)";
      }
      case "start" -> {
        arity(args, 3);
        return start(Path.of(args[1]), task(args[2]), intArg("N", args[3])).describe();
      }
      case "respond" -> {
        arity(args, 4);
        int request = intArg("REQUEST", args[3]);
        return respond(Path.of(args[1]), task(args[2]), request, longArg("VALUE", args[4]))
            .describe();
      }
      case "status" -> {
        arity(args, 2);
        return status(Path.of(args[1]), task(args[2])).describe();
      }
      case "run-uninterrupted" -> {
        arity(args, 2);
        return "uninterrupted: result " + runUninterrupted(Path.of(args[1]), intArg("N", args[2]));
      }
      default -> throw new UsageException("unknown command `" + args[0] + "`", true);
    }
  }

  private static void arity(String[] args, int n) {
    if (args.length - 1 != n) {
      throw new UsageException(
          "`" + args[0] + "` takes " + n + " arguments, got " + (args.length - 1), true);
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

  private static long size(Path file) {
    try {
      return Files.size(file);
    } catch (IOException e) {
      return -1;
    }
  }
}
