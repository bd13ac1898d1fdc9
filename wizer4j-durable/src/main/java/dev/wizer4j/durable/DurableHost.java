package dev.wizer4j.durable;

import dev.wizer4j.ModuleState;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.durable.DurableException.GuestFailed;
import dev.wizer4j.durable.DurableException.InvalidState;
import dev.wizer4j.durable.DurableException.InvalidState.Reason;
import dev.wizer4j.durable.DurableException.NoSuchTask;
import dev.wizer4j.endive.EndiveRuntime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import run.endive.runtime.Instance;

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
 * <h2>What a step saves</h2>
 *
 * A task is stored as one full state and the deltas saved after it. A step compares the instance's
 * memory with the state it was resumed from and saves only the changed ranges, the globals and the
 * memory sizes (a delta), while the task's deltas stay within their budget ({@link
 * Builder#deltaBytes(long)}, 512 bytes by default, or {@link Builder#deltaRatio(double)} of the
 * full state) and number at most 64; then it saves a full state, which drops them ({@link #compact}
 * does the same without running the guest). A task's storage is thus its full state plus at most
 * its delta budget.
 *
 * <h2>What is checked when a state is loaded</h2>
 *
 * The full state and each delta are verified before any guest code runs: the format and checksum
 * (the layout is documented in {@code StateFormat.java}); the task name and generation against the
 * store's (each delta the generation after the one before, of the full state's guest); the guest
 * hash against the stored guest (and against {@link Builder#guest(String)} if set); then, as data,
 * against the guest: one value of the right type per mutable global, memory sizes between the
 * guest's minimum and the least of its maximum, the runtime's limit and {@link
 * Builder#maxMemoryPages(long)} (and never smaller than the generation before), regions in order
 * and in bounds ({@link ModuleState#checkFits}). That is enough because a state can only set
 * globals and memory contents, which the validated code must handle whatever their values (code can
 * reach the same states by itself); it cannot add, remove or change code, tables or types, and
 * nothing is allocated before the sizes are known to be within bounds. The guest itself is verified
 * once per hash and process: its bytes must hash to its name, and it is validated in full (every
 * function body type-checked), must have canonical instrumentation, no start section and no
 * imports.
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

  /** The default of {@link Builder#deltaBytes(long)}. */
  public static final long DEFAULT_DELTA_BYTES = 512;

  /** Deltas a task keeps at most; the next step writes a full state. */
  static final int MAX_DELTAS = 64;

  private final SnapshotStore store;
  private final long maxMemoryPages;
  private final String initFunc;
  private final String onlyGuest;
  private final double deltaRatio;
  private final long deltaBytes;
  private final Wizer wizer;

  private DurableHost(Builder b) {
    this.store = Objects.requireNonNull(b.store, "store");
    this.maxMemoryPages = b.maxMemoryPages;
    this.initFunc = b.initFunc;
    this.onlyGuest = b.guest;
    this.deltaRatio = b.deltaRatio;
    this.deltaBytes = b.deltaBytes;
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
    return run(g, instance, task, null, null, delivery);
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
    checkNotLast(l.status);
    TaskImage image = l.image();
    return run(l.guest, resume(l.guest, image, task), task, l, image, delivery);
  }

  /** A fresh instance of the guest with {@code image} in it. */
  private static Instance resume(Guest g, TaskImage image, String task) {
    Instance instance = instantiate(g, task);
    if (!image.writeTo(instance)) {
      throw new GuestFailed("task `" + task + "`: a memory cannot grow to the state's size");
    }
    return instance;
  }

  /**
   * Writes task {@code task}'s state as one full state, which drops its deltas (a step does this by
   * itself when the deltas reach their budget, {@link Builder#deltaBytes(long)}); runs no guest
   * code. A task with no deltas is left as it is.
   *
   * @return where the task stands, one generation later if it had deltas
   * @throws DurableException.Conflict if another worker saved this task since it was loaded
   */
  public TaskStatus compact(String task) {
    Loaded l = load(task);
    if (l.deltas.isEmpty()) {
      return l.status;
    }
    checkNotLast(l.status);
    Instance instance = resume(l.guest, l.image(), task);
    return saveFull(
        l.guest, instance, task, l.status.generation(), l.status.done(), l.status.value());
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
      return wizer.snapshot(l.guest.cx, l.image().state().asInstanceState(l.guest.cx));
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

  /** A task's verified full state and deltas. */
  private record Loaded(
      Guest guest,
      StateFormat.Decoded full,
      List<StateFormat.Decoded> deltas,
      long deltaBytes,
      TaskStatus status) {
    TaskImage image() {
      TaskImage image = TaskImage.of(full.state());
      for (StateFormat.Decoded d : deltas) {
        image.apply(d.state());
      }
      return image;
    }
  }

  private Loaded load(String task) {
    SnapshotStore.checkTaskName(task);
    SnapshotStore.Stored stored = store.load(task).orElseThrow(() -> new NoSuchTask(task));
    String where = "task `" + task + "`";
    // A host writes at most MAX_DELTAS deltas: more is a store changed by hand, refused before
    // decoding (which holds every delta at once).
    if (stored.deltas().size() > MAX_DELTAS) {
      throw new InvalidState(
          Reason.FORMAT,
          where
              + ": the store holds "
              + stored.deltas().size()
              + " deltas after the full state, a host writes at most "
              + MAX_DELTAS);
    }
    if (stored.fullGeneration() < 1) {
      throw new InvalidState(
          Reason.FORMAT,
          where
              + ": the store holds it as generation "
              + stored.generation()
              + " with "
              + stored.deltas().size()
              + " deltas, so its full state would be generation "
              + stored.fullGeneration()
              + "; generations start at 1");
    }
    long limit = Math.min(maxMemoryPages, EndiveRuntime.MAX_PAGES);
    // The guest is looked up as soon as the state's header is verified, so that no segment is
    // decoded for memories the guest does not have or could not hold.
    Guest[] found = new Guest[1];
    StateFormat.Decoded full =
        StateFormat.decode(
            stored.bytes(),
            where,
            h -> {
              found[0] = guest(HexFormat.of().formatHex(h), where);
              return memoryLimits(found[0], limit);
            });
    Guest g = found[0];
    if (full.delta()) {
      throw new InvalidState(
          Reason.FORMAT, where + ": the stored full state is a delta (kind 1), not a full state");
    }
    check(full, task, stored.fullGeneration(), null, where);
    String hash = g.hash;
    fits(full, g, limit, where);
    List<StateFormat.Decoded> deltas = new ArrayList<>(stored.deltas().size());
    long deltaBytes = 0;
    StateFormat.Decoded last = full;
    for (byte[] bytes : stored.deltas()) {
      long generation = last.generation() + 1;
      String at = where + " delta " + generation;
      StateFormat.Decoded d =
          StateFormat.decode(
              bytes,
              at,
              h -> {
                checkGuest(h, full.guestHash(), at);
                return memoryLimits(g, limit);
              });
      if (!d.delta()) {
        throw new InvalidState(
            Reason.FORMAT, at + ": a full state (kind 0) is stored where a delta belongs");
      }
      check(d, task, generation, full.guestHash(), at);
      if (d.base() != full.crc()) {
        throw new InvalidState(
            Reason.STALE,
            at
                + String.format(
                    ": follows another full state (checksum %08x) than the stored one (%08x);"
                        + " was the task deleted and started again while a step of it ran?",
                    d.base(), full.crc()));
      }
      fits(d, g, limit, at);
      for (int m = 0; m < d.state().memoryPages().length; m++) {
        if (d.state().memoryPages()[m] < last.state().memoryPages()[m]) {
          throw new InvalidState(
              Reason.DOES_NOT_FIT,
              at
                  + ": memory "
                  + m
                  + " shrinks from "
                  + last.state().memoryPages()[m]
                  + " to "
                  + d.state().memoryPages()[m]
                  + " pages; memories only grow");
        }
      }
      deltas.add(d);
      deltaBytes += bytes.length;
      last = d;
    }
    TaskStatus status =
        new TaskStatus(
            task,
            last.generation(),
            hash,
            last.done(),
            last.value(),
            stored.size(),
            stored.updated());
    return new Loaded(g, full, List.copyOf(deltas), deltaBytes, status);
  }

  /**
   * Checks a decoded state's provenance: its task, its generation, and (for a delta) that it
   * belongs to the guest of the task's full state.
   */
  private static void check(
      StateFormat.Decoded d, String task, long generation, byte[] guestHash, String where) {
    if (!d.task().equals(task)) {
      throw new InvalidState(
          Reason.OTHER_TASK, where + ": the stored state is task `" + d.task() + "`'s");
    }
    if (d.generation() != generation) {
      throw new InvalidState(
          Reason.STALE,
          where
              + ": the state is generation "
              + d.generation()
              + " but is stored as generation "
              + generation
              + " (an older copy put back?)");
    }
    if (guestHash != null) {
      checkGuest(d.guestHash(), guestHash, where);
    }
  }

  /** Checks that a delta of guest {@code hash} follows a full state of guest {@code fullHash}. */
  private static void checkGuest(byte[] hash, byte[] fullHash, String where) {
    if (!Arrays.equals(hash, fullHash)) {
      throw new InvalidState(
          Reason.OTHER_GUEST,
          where
              + ": belongs to guest "
              + HexFormat.of().formatHex(hash).substring(0, 12)
              + ", the task's full state to guest "
              + HexFormat.of().formatHex(fullHash).substring(0, 12));
    }
  }

  /** The page limit of each of the guest's memories: the host's, which checkFits narrows. */
  private static long[] memoryLimits(Guest g, long limit) {
    long[] limits = new long[ModuleState.memoryCount(g.cx)];
    Arrays.fill(limits, limit);
    return limits;
  }

  /** A task at generation Long.MAX_VALUE (only a store changed by hand has one) has no next. */
  private static void checkNotLast(TaskStatus status) {
    if (status.generation() == Long.MAX_VALUE) {
      throw new InvalidState(
          Reason.FORMAT,
          "task `"
              + status.task()
              + "`: at generation "
              + Long.MAX_VALUE
              + ", the last there is; nothing can be saved after it");
    }
  }

  private static void fits(StateFormat.Decoded d, Guest g, long limit, String where) {
    try {
      d.state().checkFits(g.cx, limit);
    } catch (WizerException e) {
      throw new InvalidState(Reason.DOES_NOT_FIT, where + ": " + e.getMessage(), e);
    }
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

  private TaskStatus run(
      Guest g, Instance instance, String task, Loaded l, TaskImage image, Delivery delivery) {
    long generation = l == null ? 0 : l.status.generation();
    GuestInstance live = new GuestInstance(instance, task, l == null ? null : l.status);
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
    for (int m = 0; m < ModuleState.memoryCount(g.cx); m++) {
      if (instance.memory(m).pages() > maxMemoryPages) {
        throw new GuestFailed(
            "task `"
                + task
                + "`: the guest grew its memory past the host's limit of "
                + maxMemoryPages
                + " pages; nothing was saved");
      }
    }
    long budget = l == null ? 0 : deltaBudget(l.full.size());
    if (budget > 0 && store.supportsDeltas() && l.deltas.size() < MAX_DELTAS) {
      ModuleState delta = image.diff(instance, ModuleState.globalTypes(g.cx));
      byte[] bytes =
          StateFormat.encode(
              StateFormat.DELTA,
              g.hashBytes,
              generation + 1,
              done,
              value,
              task,
              l.full.crc(),
              delta);
      long deltas = l.deltaBytes + bytes.length;
      if (deltas <= budget) {
        long saved = store.saveDelta(task, generation, bytes);
        return new TaskStatus(
            task, saved, g.hash, done, value, l.full.size() + deltas, Instant.now());
      }
    }
    return saveFull(g, instance, task, generation, done, value);
  }

  /** The bytes of deltas a task whose full state has {@code fullSize} bytes may keep. */
  private long deltaBudget(long fullSize) {
    return Math.max(deltaBytes, (long) (fullSize * deltaRatio));
  }

  /** Snapshots {@code instance} and saves it as the full state of the next generation. */
  private TaskStatus saveFull(
      Guest g, Instance instance, String task, long generation, boolean done, long value) {
    ModuleState state =
        TaskImage.fullState(instance, ModuleState.memoryCount(g.cx), ModuleState.globalTypes(g.cx));
    byte[] bytes =
        StateFormat.encode(StateFormat.FULL, g.hashBytes, generation + 1, done, value, task, state);
    long saved = store.save(task, generation, bytes);
    return new TaskStatus(task, saved, g.hash, done, value, bytes.length, Instant.now());
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
    private double deltaRatio;
    private long deltaBytes = DEFAULT_DELTA_BYTES;

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

    /**
     * How many bytes a task may keep in deltas (default {@value #DEFAULT_DELTA_BYTES}). A step
     * saves only what it changed (a delta, about 130 bytes plus the changed bytes) while the task's
     * deltas stay within this and number at most 64; otherwise it saves the full state, which drops
     * them. A task's storage is its full state plus at most this; the default keeps a task within 1
     * KiB of its non-zero memory when its full state is within 512 bytes of it (which holds for
     * memory whose zeros come in runs or in a pattern). 0, with a ratio of 0, writes a full state
     * every step.
     */
    public Builder deltaBytes(long n) {
      if (n < 0) {
        throw new IllegalArgumentException("deltaBytes must be >= 0: " + n);
      }
      this.deltaBytes = n;
      return this;
    }

    /**
     * Lets a task keep up to {@code ratio} times its full state in deltas, when that is more than
     * {@link #deltaBytes(long)} (default 0). With a large state and small steps, {@code 0.125}
     * makes most steps deltas (64 of every 65 here) for at most 1/8 more storage: on a 2 MiB state
     * that took a directory store's step from 1.8 to 1.4 ms.
     */
    public Builder deltaRatio(double ratio) {
      if (!(ratio >= 0 && ratio <= 16)) {
        throw new IllegalArgumentException("deltaRatio must be within 0..16: " + ratio);
      }
      this.deltaRatio = ratio;
      return this;
    }

    public DurableHost build() {
      return new DurableHost(this);
    }
  }
}
