package dev.wizer4j.durable;

import dev.wizer4j.GlobalValue;
import dev.wizer4j.ModuleState;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.durable.DurableException.GuestFailed;
import dev.wizer4j.durable.DurableException.InvalidState;
import dev.wizer4j.durable.DurableException.InvalidState.Reason;
import dev.wizer4j.durable.DurableException.NoSuchTask;
import dev.wizer4j.endive.EndiveInstanceState;
import dev.wizer4j.endive.EndiveRuntime;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import run.endive.runtime.GlobalInstance;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.wasm.types.MutabilityType;

/**
 * Runs durable tasks: each step loads a task's latest state from a {@link SnapshotStore}, verifies
 * it, resumes the guest from it, delivers what arrived, lets the guest run until it returns (it
 * waits again, or it is done), snapshots it and saves the new state with compare-and-swap.
 *
 * <pre>{@code
 * DurableHost host = DurableHost.builder().store(new DirectoryStore(dir)).build();
 * String guest = host.register(wasm);                       // pre-initialized, validated, stored once
 * host.start(guest, "order-17", g -> g.call("start", 17));  // the task's first state
 * TaskStatus s = host.step("order-17", g -> g.call("on_response", request, answer));
 * }</pre>
 *
 * <h2>The guest contract</h2>
 *
 * <ul>
 *   <li>A guest is a core module with an init function (default {@code wizer-initialize}); {@link
 *       #register} pre-initializes it. It imports nothing.
 *   <li>A wasm call stack cannot be saved: every call the host makes returns. Between calls, the
 *       guest's whole state is its globals and memory.
 *   <li>It exports {@code durable_status: [] -> [i64]}, called after every delivery: {@code k >= 0}
 *       means "waiting for request k", {@code -1} means "done"; any other value means the guest
 *       refused what was delivered, and the step saves nothing.
 *   <li>It exports {@code durable_result: [] -> [i64]}, called once it is done; the result is
 *       stored with the state, so that status and listing never need to run the guest.
 * </ul>
 *
 * <p>Everything else (which exports to call, with which arguments) is between the caller's {@link
 * Delivery} and its guest.
 *
 * <h2>What is checked when a state is loaded</h2>
 *
 * The state is verified before any guest code runs: the format and checksum (the layout is
 * documented in {@code StateFormat.java}); the task name and generation against the store's; the
 * guest hash against the stored guest (and against {@link Builder#guest(String)} if set); then, as
 * data, against the guest: one value of the right type per mutable global, memory sizes between the
 * guest's minimum and the least of its maximum, the runtime's limit and {@link
 * Builder#maxMemoryPages(long)}, segments in order and in bounds ({@link ModuleState#checkFits}).
 * That is enough because a state can only set globals and memory contents, which the validated code
 * must handle whatever their values (code can reach the same states by itself); it cannot add,
 * remove or change code, tables or types, and nothing is allocated before the sizes are known to be
 * within bounds. The guest itself is verified once per hash and process: its bytes must hash to its
 * name, and it is validated in full (every function body type-checked), must have canonical
 * instrumentation, no start section and no imports.
 *
 * <p>Instances are thread-safe; two steps of one task at the same time are settled by the store:
 * one saves, the other gets {@link DurableException.Conflict}.
 */
public final class DurableHost {
  /** The export that says where the guest stands after a delivery. */
  public static final String STATUS_EXPORT = "durable_status";

  /** The export that gives the result of a guest that is done. */
  public static final String RESULT_EXPORT = "durable_result";

  /** The value of {@code durable_status} for a guest that is done. */
  public static final long DONE = -1;

  /** The default limit of a task's memory: 16,384 pages, 1 GiB. */
  public static final long DEFAULT_MAX_MEMORY_PAGES = 16384;

  private final SnapshotStore store;
  private final long maxMemoryPages;
  private final String initFunc;
  private final String onlyGuest;
  private final Wizer wizer;

  private DurableHost(Builder b) {
    this.store = Objects.requireNonNull(b.store, "store");
    this.maxMemoryPages = b.maxMemoryPages;
    this.initFunc = b.initFunc;
    this.onlyGuest = b.guest;
    this.wizer =
        Wizer.builder()
            .initFunc(initFunc)
            .keepInstrumentation(true)
            .runtime(new EndiveRuntime())
            .build();
  }

  public static Builder builder() {
    return new Builder();
  }

  public SnapshotStore store() {
    return store;
  }

  /** A live guest during a step: what a {@link Delivery} calls. */
  public static final class GuestInstance {
    private final Instance instance;
    private final String task;
    private final TaskStatus before;

    GuestInstance(Instance instance, String task, TaskStatus before) {
      this.instance = instance;
      this.task = task;
      this.before = before;
    }

    /** Where the task stood when the step began; null when it is being started. */
    public TaskStatus before() {
      return before;
    }

    /**
     * Calls the exported function {@code name}; returns its first result (0 if it has none). A trap
     * becomes {@link GuestFailed}.
     */
    public long call(String name, long... args) {
      long[] r;
      try {
        r = instance.export(name).apply(args);
      } catch (RuntimeException | StackOverflowError e) {
        throw new GuestFailed(
            "task `" + task + "`: the guest trapped in `" + name + "`: " + message(e), e);
      }
      return r == null || r.length == 0 ? 0 : r[0];
    }

    /** The Endive instance, for anything {@link #call} does not cover. */
    public Instance instance() {
      return instance;
    }
  }

  /** What a step delivers to the guest: calls into it, all of which return. */
  @FunctionalInterface
  public interface Delivery {
    void deliver(GuestInstance guest);
  }

  /**
   * Pre-initializes {@code wasm} (its init function runs once, here), verifies the result as every
   * stored guest is verified, and stores it once under its SHA-256.
   *
   * @return the guest's hash, to {@link #start} tasks with
   */
  public String register(byte[] wasm) {
    byte[] ready;
    try {
      ready = wizer.run(Objects.requireNonNull(wasm, "wasm"));
    } catch (WizerException e) {
      throw new DurableException("cannot pre-initialize the guest: " + e.getMessage(), e);
    }
    String hash = Guest.sha256(ready);
    Guest.get(hash, ready, wizer, null);
    store.putGuest(hash, ready);
    return hash;
  }

  /** Starts task {@code task} of guest {@code guest} and saves its first state (generation 1). */
  public TaskStatus start(String guest, String task, Delivery delivery) {
    SnapshotStore.checkTaskName(task);
    String where = "task `" + task + "`";
    Guest g = guest(SnapshotStore.checkGuestHash(guest), where);
    if (store.loadGuest(guest).isEmpty()) {
      // Verified in this process for another store, perhaps, but a task must be resumable from
      // its own store.
      throw new InvalidState(
          Reason.OTHER_GUEST, where + ": the store does not have guest " + guest.substring(0, 12));
    }
    Optional<SnapshotStore.Stored> existing = store.load(task);
    if (existing.isPresent()) {
      throw new DurableException.Conflict(task, 0, existing.get().generation());
    }
    Instance instance = instantiate(g, task);
    return run(g, instance, task, 0, null, delivery);
  }

  /**
   * One step of task {@code task}: load and verify its state, resume, deliver, snapshot, save with
   * compare-and-swap. On any failure nothing is saved.
   *
   * @return where the task stands after the step
   * @throws DurableException.Conflict if another worker saved this task since it was loaded
   */
  public TaskStatus step(String task, Delivery delivery) {
    Loaded l = load(task);
    Instance instance = instantiate(l.guest, task);
    apply(l.decoded.state(), instance, task);
    return run(l.guest, instance, task, l.status.generation(), l.status, delivery);
  }

  /** Where task {@code task} stands, from its verified state; runs no guest code. */
  public TaskStatus status(String task) {
    return load(task).status;
  }

  /**
   * Task {@code task} as a full, ordinary WebAssembly module: its guest with the task's state in
   * place (and the instrumentation kept), runnable anywhere without this library.
   */
  public byte[] materialize(String task) {
    Loaded l = load(task);
    try {
      return wizer.snapshot(l.guest.cx, l.decoded.state().asInstanceState(l.guest.cx));
    } catch (WizerException e) {
      throw new DurableException(
          "task `" + task + "`: cannot write a module: " + e.getMessage(), e);
    }
  }

  /** Every task in the store. */
  public List<SnapshotStore.TaskInfo> list() {
    return store.list();
  }

  /** Deletes task {@code task}; false if there was none. */
  public boolean delete(String task) {
    return store.delete(SnapshotStore.checkTaskName(task), -1);
  }

  // ------------------------------------------------------------------------------------------

  private record Loaded(Guest guest, StateFormat.Decoded decoded, TaskStatus status) {}

  private Loaded load(String task) {
    SnapshotStore.checkTaskName(task);
    SnapshotStore.Stored stored = store.load(task).orElseThrow(() -> new NoSuchTask(task));
    String where = "task `" + task + "`";
    StateFormat.Decoded d = StateFormat.decode(stored.bytes(), where);
    if (!d.task().equals(task)) {
      throw new InvalidState(
          Reason.OTHER_TASK, where + ": the stored state is task `" + d.task() + "`'s");
    }
    if (d.generation() != stored.generation()) {
      throw new InvalidState(
          Reason.STALE,
          where
              + ": the state is generation "
              + d.generation()
              + " but is stored as generation "
              + stored.generation()
              + " (an older copy put back?)");
    }
    String hash = HexFormat.of().formatHex(d.guestHash());
    Guest g = guest(hash, where);
    try {
      d.state().checkFits(g.cx, Math.min(maxMemoryPages, EndiveRuntime.MAX_PAGES));
    } catch (WizerException e) {
      throw new InvalidState(Reason.DOES_NOT_FIT, where + ": " + e.getMessage(), e);
    }
    TaskStatus status =
        new TaskStatus(task, d.generation(), hash, d.done(), d.value(), d.size(), stored.updated());
    return new Loaded(g, d, status);
  }

  private Guest guest(String hash, String where) {
    if (onlyGuest != null && !onlyGuest.equals(hash)) {
      throw new InvalidState(
          Reason.OTHER_GUEST,
          where
              + ": belongs to guest "
              + hash.substring(0, 12)
              + ", this host runs only guest "
              + onlyGuest.substring(0, 12));
    }
    Guest cached = Guest.cached(hash);
    if (cached != null) {
      return cached;
    }
    Optional<byte[]> wasm = store.loadGuest(hash);
    if (wasm.isEmpty()) {
      throw new InvalidState(
          Reason.OTHER_GUEST,
          where
              + ": belongs to guest "
              + hash.substring(0, 12)
              + ", which the store does not have");
    }
    return Guest.get(hash, wasm.get(), wizer, where);
  }

  /** Instantiates the verified guest; no start function, nothing of the task's state yet. */
  private static Instance instantiate(Guest g, String task) {
    try {
      return Instance.builder(g.module).withStart(false).build();
    } catch (RuntimeException e) {
      throw new GuestFailed("task `" + task + "`: cannot instantiate the guest: " + message(e), e);
    }
  }

  /**
   * Puts a verified state into a fresh instance of its guest: the memory the guest's own data
   * segments filled is cleared, grown to the state's size and filled with the state's segments; the
   * mutable globals get the state's values. The result is the instance a module rewritten with the
   * state would give, without writing, parsing or validating that module.
   */
  private static void apply(ModuleState s, Instance instance, String task) {
    for (int m = 0; m < s.memoryPages().length; m++) {
      Memory mem = instance.memory(m);
      mem.zero();
      int grow = (int) s.memoryPages()[m] - mem.pages();
      if (grow > 0 && mem.grow(grow) < 0) {
        throw new GuestFailed(
            "task `"
                + task
                + "`: memory "
                + m
                + " cannot grow to "
                + s.memoryPages()[m]
                + " pages");
      }
    }
    for (ModuleState.Segment seg : s.segments()) {
      instance.memory(seg.memoryIndex()).write((int) seg.offset(), seg.data());
    }
    int next = 0;
    for (int i = 0; i < instance.globalCount(); i++) {
      GlobalInstance g = instance.global(i);
      if (g.getMutabilityType() != MutabilityType.Var) {
        continue;
      }
      GlobalValue v = s.globals().get(next++);
      if (v.type() == GlobalValue.Type.V128) {
        g.setValueLow(v.bits());
        g.setValueHigh(v.high());
      } else {
        g.setValue(v.bits());
      }
    }
  }

  private TaskStatus run(
      Guest g,
      Instance instance,
      String task,
      long generation,
      TaskStatus before,
      Delivery delivery) {
    GuestInstance live = new GuestInstance(instance, task, before);
    delivery.deliver(live);
    long status = live.call(STATUS_EXPORT);
    if (status < DONE) {
      throw new GuestFailed(
          "task `"
              + task
              + "`: the guest refused the delivery (`"
              + STATUS_EXPORT
              + "` = "
              + status
              + "); nothing was saved");
    }
    boolean done = status == DONE;
    long value = done ? live.call(RESULT_EXPORT) : status;
    ModuleState state;
    try {
      state = ModuleState.take(g.cx, EndiveInstanceState.of(instance));
    } catch (WizerException e) {
      throw new DurableException("task `" + task + "`: cannot snapshot: " + e.getMessage(), e);
    }
    if (Arrays.stream(state.memoryPages()).anyMatch(p -> p > maxMemoryPages)) {
      throw new GuestFailed(
          "task `"
              + task
              + "`: the guest grew its memory past the host's limit of "
              + maxMemoryPages
              + " pages; nothing was saved");
    }
    byte[] bytes = StateFormat.encode(g.hashBytes, generation + 1, done, value, task, state);
    long saved = store.save(task, generation, bytes);
    return new TaskStatus(task, saved, g.hash, done, value, bytes.length, java.time.Instant.now());
  }

  static String message(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isBlank() ? e.getClass().getSimpleName() : m.strip().replace('\n', ' ');
  }

  /** Configuration of a {@link DurableHost}. */
  public static final class Builder {
    private SnapshotStore store;
    private long maxMemoryPages = DEFAULT_MAX_MEMORY_PAGES;
    private String initFunc = Wizer.DEFAULT_INIT_FUNC;
    private String guest;

    private Builder() {}

    /** Where tasks and guests are kept (required). */
    public Builder store(SnapshotStore store) {
      this.store = Objects.requireNonNull(store, "store");
      return this;
    }

    /**
     * The largest memory a task may have, in 64 KiB pages (default {@value
     * #DEFAULT_MAX_MEMORY_PAGES}). A stored state that declares more is refused before anything is
     * allocated, and a step whose guest grows past it saves nothing.
     */
    public Builder maxMemoryPages(long pages) {
      if (pages < 1) {
        throw new IllegalArgumentException("maxMemoryPages must be positive: " + pages);
      }
      this.maxMemoryPages = pages;
      return this;
    }

    /** The guest's init function that {@link #register} runs (default wizer-initialize). */
    public Builder initFunc(String name) {
      this.initFunc = Objects.requireNonNull(name, "initFunc");
      return this;
    }

    /** Run only tasks of this guest (its hash); a state of any other guest is refused. */
    public Builder guest(String hash) {
      this.guest = SnapshotStore.checkGuestHash(hash);
      return this;
    }

    public DurableHost build() {
      return new DurableHost(this);
    }
  }
}
