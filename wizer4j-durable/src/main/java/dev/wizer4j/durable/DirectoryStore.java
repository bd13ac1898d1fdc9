package dev.wizer4j.durable;

import dev.wizer4j.durable.DurableException.Conflict;
import dev.wizer4j.durable.DurableException.StoreFailure;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link SnapshotStore} in a directory, safe for several threads and several processes on one
 * machine.
 *
 * <pre>
 * DIR/guests/HASH.wasm                    each guest module, once
 * DIR/tasks/TASK/GENERATION.state         the task's full state (20-digit generation)
 * DIR/tasks/TASK/GENERATION.delta         each delta saved after it
 * DIR/locks/TASK.lock                     empty; locked while a task is saved or deleted
 * </pre>
 *
 * <p>A save takes the task's lock (a file lock between processes, and a lock between threads of one
 * process, which file locks do not cover), checks that the task's newest generation (of its full
 * state and deltas) is still the expected one, writes the new state or delta to a temporary file in
 * the task's directory, flushes it to disk, renames it to its generation's name and flushes the
 * directory. A full save then deletes the older full state and every delta. A reader takes no lock:
 * it reads the newest full state it finds and the deltas numbered after it, each always complete (a
 * file is renamed into place only once written and flushed); if a save deletes one of them while it
 * reads, it reads again. A crash at any point leaves the old generation or the new one (and at
 * worst files that the newer full state makes obsolete, deleted by the next full save). Lock files
 * are kept after a task is deleted: deleting a lock file that another process waits on would let
 * two processes hold "the" lock at once.
 */
public final class DirectoryStore implements SnapshotStore {
  private static final String STATE_SUFFIX = ".state";
  private static final String DELTA_SUFFIX = ".delta";
  private static final int GENERATION_DIGITS = 20;
  private static final ConcurrentHashMap<Path, ReentrantLock> THREAD_LOCKS =
      new ConcurrentHashMap<>();

  private final Path root;
  private final Path guests;
  private final Path tasks;
  private final Path locks;

  /** Opens (and creates if needed) a store in {@code root}. */
  public DirectoryStore(Path root) {
    this.root = root.toAbsolutePath().normalize();
    this.guests = this.root.resolve("guests");
    this.tasks = this.root.resolve("tasks");
    this.locks = this.root.resolve("locks");
    try {
      Files.createDirectories(guests);
      Files.createDirectories(tasks);
      Files.createDirectories(locks);
    } catch (IOException e) {
      throw failure("cannot create the store in " + this.root, e);
    }
    removeDeleted(tasks);
  }

  /**
   * Removes what deletes that a crash interrupted left: directories renamed to {@code
   * .deleted-TASK-N}, which no read looks at. Best effort: another process may be removing them
   * too, and what is left is tried again when a store is opened next.
   */
  private static void removeDeleted(Path tasks) {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks, ".deleted-*")) {
      for (Path dir : ds) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
          for (Path f : files) {
            deleteQuietly(f);
          }
        }
        Files.deleteIfExists(dir);
      }
    } catch (IOException e) {
      // harmless: the names are never tasks
    }
  }

  public Path root() {
    return root;
  }

  /** The file that holds the task's latest state, if any (for tools and tests). */
  public Optional<Path> stateFile(String task) {
    SnapshotStore.checkTaskName(task);
    try {
      Latest l = latest(tasks.resolve(task));
      return l == null ? Optional.empty() : Optional.of(l.state);
    } catch (IOException e) {
      throw failure("cannot read task `" + task + "`", e);
    }
  }

  @Override
  public Optional<Stored> load(String task) {
    SnapshotStore.checkTaskName(task);
    Path dir = tasks.resolve(task);
    // A save may delete the state we found between finding and reading it: look again.
    for (int attempt = 0; ; attempt++) {
      try {
        Latest l = latest(dir);
        if (l == null) {
          return Optional.empty();
        }
        byte[] bytes = read(l.state);
        List<byte[]> deltas = new ArrayList<>(l.deltas.size());
        for (Path d : l.deltas) {
          deltas.add(read(d));
        }
        Instant updated = Files.getLastModifiedTime(l.newestFile()).toInstant();
        return Optional.of(new Stored(task, l.newest(), bytes, deltas, updated));
      } catch (NoSuchFileException | Gap e) {
        // A listing is no snapshot: a full save deleting deltas while it ran can show a gap.
        if (attempt >= 100) {
          throw e instanceof Gap
              ? failure("cannot read task `" + task + "`", e)
              : failure("task `" + task + "` keeps changing while it is read", e);
        }
      } catch (IOException e) {
        throw failure("cannot read task `" + task + "`", e);
      }
    }
  }

  /** Deltas after a full state that are not numbered one after another. */
  private static final class Gap extends IOException {
    private static final long serialVersionUID = 1L;

    Gap(String message) {
      super(message);
    }
  }

  @Override
  public long save(String task, long expectedGeneration, byte[] bytes) {
    return save(task, expectedGeneration, bytes, false);
  }

  @Override
  public boolean supportsDeltas() {
    return true;
  }

  @Override
  public long saveDelta(String task, long expectedGeneration, byte[] delta) {
    return save(task, expectedGeneration, delta, true);
  }

  /**
   * Under the task's lock: checks the newest generation, writes the next as a full state (then
   * deletes the older full state and its deltas) or as a delta (the task must exist).
   */
  private long save(String task, long expectedGeneration, byte[] bytes, boolean delta) {
    SnapshotStore.checkTaskName(task);
    long next = SnapshotStore.nextGeneration(expectedGeneration);
    Path dir = tasks.resolve(task);
    return locked(
        task,
        () -> {
          Latest l = latest(dir);
          long current = l == null ? 0 : l.newest();
          if (current != expectedGeneration || (delta && l == null)) {
            throw new Conflict(task, expectedGeneration, current);
          }
          if (delta) {
            put(dir, next, DELTA_SUFFIX, bytes);
            return next;
          }
          Files.createDirectories(dir);
          if (l == null) {
            // A new task: deltas without a full state belong to no task (an interrupted delete
            // of a store written before deletes were atomic, or a hand); never let them follow.
            clearLeftovers(dir);
          }
          put(dir, next, STATE_SUFFIX, bytes);
          if (l != null) {
            for (Path d : l.deltas) {
              Files.deleteIfExists(d);
            }
            for (Path o : l.obsolete) {
              deleteQuietly(o);
            }
            Files.deleteIfExists(l.state);
          }
          return next;
        });
  }

  /** Writes {@code bytes} as {@code dir/generation + suffix}: durable once this returns. */
  private static void put(Path dir, long generation, String suffix, byte[] bytes)
      throws IOException {
    Path target = dir.resolve(name(generation, suffix));
    // Under the task's lock no one else writes here, so the name needs no randomness; one left by
    // a crash is replaced.
    Path tmp = dir.resolve(".tmp-" + generation);
    Files.deleteIfExists(tmp);
    try {
      Files.createFile(tmp);
      write(tmp, bytes);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
    } finally {
      if (tmp != null) {
        Files.deleteIfExists(tmp);
      }
    }
    syncDirectory(dir);
  }

  @Override
  public List<TaskInfo> list() {
    List<TaskInfo> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks)) {
      for (Path dir : ds) {
        String task = dir.getFileName().toString();
        if (task.startsWith(".") || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        Latest l = latest(dir);
        if (l == null) {
          continue;
        }
        try {
          long size = Files.size(l.state);
          for (Path d : l.deltas) {
            size += Files.size(d);
          }
          out.add(
              new TaskInfo(
                  task,
                  l.newest(),
                  size,
                  l.deltas.size(),
                  Files.getLastModifiedTime(l.newestFile()).toInstant()));
        } catch (NoSuchFileException e) {
          // saved or deleted while listing: the next listing shows it as it is then
        }
      }
    } catch (IOException e) {
      throw failure("cannot list the tasks in " + tasks, e);
    }
    out.sort((a, b) -> a.task().compareTo(b.task()));
    return out;
  }

  @Override
  public boolean delete(String task, long expectedGeneration) {
    SnapshotStore.checkTaskName(task);
    Path dir = tasks.resolve(task);
    return locked(
        task,
        () -> {
          Latest l = latest(dir);
          if (l == null) {
            return false;
          }
          if (expectedGeneration >= 0 && l.newest() != expectedGeneration) {
            throw new Conflict(task, expectedGeneration, l.newest());
          }
          // One atomic step makes the task gone, whatever happens to the deletions after it: a
          // crash half way through them must not leave deltas that a new task of this name
          // would find after its first full state. Names starting with a dot are never tasks.
          Path gone = tasks.resolve(".deleted-" + task + "-" + System.nanoTime());
          Files.move(dir, gone, StandardCopyOption.ATOMIC_MOVE);
          syncDirectory(tasks);
          try (DirectoryStream<Path> ds = Files.newDirectoryStream(gone)) {
            for (Path p : ds) {
              Files.deleteIfExists(p);
            }
          }
          Files.deleteIfExists(gone);
          return true;
        });
  }

  @Override
  public void putGuest(String hash, byte[] wasm) {
    SnapshotStore.checkGuestHash(hash);
    Path target = guests.resolve(hash + ".wasm");
    if (Files.exists(target)) {
      return;
    }
    Path tmp = null;
    try {
      tmp = Files.createTempFile(guests, ".tmp-", "");
      write(tmp, wasm);
      try {
        // A hard link creates the name only if it is free: two processes storing the same guest
        // at once both succeed, and neither replaces a file that someone may be reading.
        Files.createLink(target, tmp);
      } catch (FileAlreadyExistsException e) {
        // stored meanwhile; it holds the same bytes (its name is their hash, checked on load)
      } catch (UnsupportedOperationException e) {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        tmp = null;
      }
      syncDirectory(guests);
    } catch (IOException e) {
      throw failure("cannot store guest " + hash, e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException e) {
          // the guest is stored or the failure is reported; a stray temporary file is harmless
        }
      }
    }
  }

  @Override
  public Optional<byte[]> loadGuest(String hash) {
    SnapshotStore.checkGuestHash(hash);
    try {
      return Optional.of(Files.readAllBytes(guests.resolve(hash + ".wasm")));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw failure("cannot read guest " + hash, e);
    }
  }

  @Override
  public List<String> guests() {
    List<String> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(guests, "*.wasm")) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        out.add(name.substring(0, name.length() - ".wasm".length()));
      }
    } catch (IOException e) {
      throw failure("cannot list the guests in " + guests, e);
    }
    out.sort(null);
    return out;
  }

  // ------------------------------------------------------------------------------------------

  /**
   * A task's newest full state and the deltas after it; {@code obsolete} are the older full states
   * and deltas a crash between writing a full state and deleting what it replaced left behind.
   */
  private record Latest(Path state, long generation, List<Path> deltas, List<Path> obsolete) {
    long newest() {
      return generation + deltas.size();
    }

    Path newestFile() {
      return deltas.isEmpty() ? state : deltas.get(deltas.size() - 1);
    }
  }

  /**
   * The newest full state in a task's directory and its deltas, or null if it has no full state.
   * Other files (temporary ones, and those a newer full state made obsolete) are ignored.
   *
   * @throws IOException if the deltas after the full state are not numbered one after another: the
   *     store was changed by something other than this class
   */
  private static Latest latest(Path dir) throws IOException {
    Path state = null;
    long generation = -1;
    List<Path> states = new ArrayList<>();
    TreeMap<Long, Path> deltas = new TreeMap<>();
    if (Files.isSymbolicLink(dir)) {
      // Its files would be read, written and (on delete) all removed wherever it points.
      throw new IOException(
          dir
              + " is a symbolic link, not a directory: the task's files were changed outside the"
              + " store");
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        if (name.endsWith(STATE_SUFFIX)) {
          long g = generationOf(name, STATE_SUFFIX);
          if (g > 0) {
            states.add(p);
          }
          if (g > generation) {
            state = p;
            generation = g;
          }
        } else if (name.endsWith(DELTA_SUFFIX)) {
          long g = generationOf(name, DELTA_SUFFIX);
          if (g > 0) {
            deltas.put(g, p);
          }
        }
      }
    } catch (NoSuchFileException e) {
      return null;
    }
    if (state == null) {
      return null;
    }
    List<Path> after = new ArrayList<>(deltas.tailMap(generation, false).values());
    long expect = generation + 1;
    for (long g : deltas.tailMap(generation, false).keySet()) {
      if (g != expect++) {
        throw new Gap(
            "the deltas after full state "
                + generation
                + " skip generation "
                + (expect - 1)
                + " (found "
                + g
                + "): the task's files were changed outside the store");
      }
    }
    List<Path> obsolete = new ArrayList<>(deltas.headMap(generation, true).values());
    for (Path p : states) {
      if (!p.equals(state)) {
        obsolete.add(p);
      }
    }
    return new Latest(state, generation, after, obsolete);
  }

  /** Deletes the state and delta files in a task directory that has no full state. */
  private static void clearLeftovers(Path dir) throws IOException {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String name = p.getFileName().toString();
        if (name.endsWith(DELTA_SUFFIX) || name.endsWith(STATE_SUFFIX)) {
          if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            Files.delete(p);
          }
        }
      }
    }
    syncDirectory(dir);
  }

  /**
   * Deletes a file that a crash left behind, if it is a regular file; a failure is left for the
   * next full save (the save itself has succeeded by then).
   */
  private static void deleteQuietly(Path file) {
    try {
      if (Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
        Files.deleteIfExists(file);
      }
    } catch (IOException e) {
      // harmless: it is ignored by every read, and tried again at the next full save
    }
  }

  private static String name(long generation, String suffix) {
    return String.format("%0" + GENERATION_DIGITS + "d", generation) + suffix;
  }

  private static long generationOf(String fileName, String suffix) {
    if (fileName.length() != GENERATION_DIGITS + suffix.length()) {
      return -1;
    }
    long g = 0;
    for (int i = 0; i < GENERATION_DIGITS; i++) {
      char c = fileName.charAt(i);
      // Exact: a name up to Long.MAX_VALUE is a generation (a bound of MAX_VALUE - 9 ignored the
      // files of generations 9223372036854775800 and up, so saving them was lost).
      if (c < '0' || c > '9' || g > (Long.MAX_VALUE - (c - '0')) / 10) {
        return -1;
      }
      g = g * 10 + (c - '0');
    }
    return g;
  }

  private interface Locked<T> {
    T run() throws IOException;
  }

  private <T> T locked(String task, Locked<T> body) {
    Path lockFile = locks.resolve(task + ".lock");
    ReentrantLock threads = THREAD_LOCKS.computeIfAbsent(lockFile, k -> new ReentrantLock());
    threads.lock();
    try (FileChannel ch =
        FileChannel.open(
            lockFile,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS)) {
      FileLock lock = ch.lock(); // released when the channel closes
      try {
        return body.run();
      } finally {
        lock.release();
      }
    } catch (IOException e) {
      throw failure("cannot save task `" + task + "` in " + root, e);
    } finally {
      threads.unlock();
    }
  }

  /**
   * Reads a state or delta file: a regular file, not through a symbolic link (which could name a
   * file outside the store, a device that never ends or a FIFO that blocks), of a size an array
   * holds.
   */
  private static byte[] read(Path file) throws IOException {
    BasicFileAttributes a =
        Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!a.isRegularFile()) {
      throw new IOException(
          file
              + " is "
              + (a.isSymbolicLink() ? "a symbolic link" : "not a regular file")
              + ": the task's files were changed outside the store");
    }
    if (a.size() > Integer.MAX_VALUE - 16) {
      throw new IOException(file + " has " + a.size() + " bytes, more than any state");
    }
    // NOFOLLOW_LINKS again: the name may have become a link since it was looked at.
    try (SeekableByteChannel ch =
        Files.newByteChannel(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      ByteBuffer buf = ByteBuffer.allocate((int) a.size());
      while (buf.hasRemaining() && ch.read(buf) >= 0) {}
      if (buf.hasRemaining() || ch.position() != ch.size()) {
        throw new IOException(file + " changed size while it was read");
      }
      return buf.array();
    }
  }

  private static void write(Path file, byte[] bytes) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
      ch.force(true);
    }
  }

  /** Makes a rename durable where a directory can be opened for it (Linux and macOS). */
  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      // not supported here (Windows); the rename itself is still atomic
    }
  }

  private static StoreFailure failure(String what, IOException e) {
    String m = e.getMessage();
    return new StoreFailure(
        what + ": " + e.getClass().getSimpleName() + (m == null ? "" : " " + m), e);
  }
}
