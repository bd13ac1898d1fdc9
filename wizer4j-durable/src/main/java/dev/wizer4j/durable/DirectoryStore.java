package dev.wizer4j.durable;

import dev.wizer4j.durable.DurableException.Conflict;
import dev.wizer4j.durable.DurableException.StoreFailure;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link SnapshotStore} in a directory, safe for several threads and several processes on one
 * machine.
 *
 * <pre>
 * DIR/guests/HASH.wasm                    each guest module, once
 * DIR/tasks/TASK/GENERATION.state         the task's latest state (20-digit generation)
 * DIR/locks/TASK.lock                     empty; locked while a task is saved or deleted
 * </pre>
 *
 * <p>A save takes the task's lock (a file lock between processes, and a lock between threads of one
 * process, which file locks do not cover), checks that the newest state is still the expected
 * generation, writes the new state to a temporary file in the task's directory, flushes it to disk,
 * renames it to its generation's name, flushes the directory, and only then deletes the previous
 * state. A reader takes no lock: it reads the newest state it finds, which is always complete; a
 * crash at any point leaves the old state or the new one (and at worst both, the newer wins). Lock
 * files are kept after a task is deleted: deleting a lock file that another process waits on would
 * let two processes hold "the" lock at once.
 */
public final class DirectoryStore implements SnapshotStore {
  private static final String STATE_SUFFIX = ".state";
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
  }

  public Path root() {
    return root;
  }

  /** The file that holds the task's latest state, if any (for tools and tests). */
  public Optional<Path> stateFile(String task) {
    SnapshotStore.checkTaskName(task);
    try {
      Latest l = latest(tasks.resolve(task));
      return l == null ? Optional.empty() : Optional.of(l.file);
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
        byte[] bytes = Files.readAllBytes(l.file);
        Instant updated = Files.getLastModifiedTime(l.file).toInstant();
        return Optional.of(new Stored(task, l.generation, bytes, updated));
      } catch (NoSuchFileException e) {
        if (attempt >= 100) {
          throw failure("task `" + task + "` keeps changing while it is read", e);
        }
      } catch (IOException e) {
        throw failure("cannot read task `" + task + "`", e);
      }
    }
  }

  @Override
  public long save(String task, long expectedGeneration, byte[] bytes) {
    SnapshotStore.checkTaskName(task);
    if (expectedGeneration < 0) {
      throw new IllegalArgumentException("expectedGeneration must be >= 0");
    }
    Path dir = tasks.resolve(task);
    return locked(
        task,
        () -> {
          Latest l = latest(dir);
          long current = l == null ? 0 : l.generation;
          if (current != expectedGeneration) {
            throw new Conflict(task, expectedGeneration, current);
          }
          long next = expectedGeneration + 1;
          Files.createDirectories(dir);
          Path target = dir.resolve(name(next));
          // Under the task's lock no one else writes here, so the name needs no randomness; one
          // left by a crash is replaced.
          Path tmp = dir.resolve(".tmp-" + next);
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
          if (l != null) {
            Files.deleteIfExists(l.file);
          }
          return next;
        });
  }

  @Override
  public List<TaskInfo> list() {
    List<TaskInfo> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(tasks)) {
      for (Path dir : ds) {
        String task = dir.getFileName().toString();
        if (task.startsWith(".") || !Files.isDirectory(dir)) {
          continue;
        }
        Latest l = latest(dir);
        if (l == null) {
          continue;
        }
        try {
          out.add(
              new TaskInfo(
                  task,
                  l.generation,
                  Files.size(l.file),
                  Files.getLastModifiedTime(l.file).toInstant()));
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
          if (expectedGeneration >= 0 && l.generation != expectedGeneration) {
            throw new Conflict(task, expectedGeneration, l.generation);
          }
          try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
              Files.deleteIfExists(p);
            }
          }
          Files.deleteIfExists(dir);
          syncDirectory(tasks);
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

  private record Latest(Path file, long generation) {}

  /** The newest state in a task's directory, or null. Other files (temporary ones) are ignored. */
  private static Latest latest(Path dir) throws IOException {
    Latest best = null;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*" + STATE_SUFFIX)) {
      for (Path p : ds) {
        long g = generationOf(p.getFileName().toString());
        if (g > 0 && (best == null || g > best.generation)) {
          best = new Latest(p, g);
        }
      }
    } catch (NoSuchFileException e) {
      return null;
    }
    return best;
  }

  private static String name(long generation) {
    return String.format("%0" + GENERATION_DIGITS + "d", generation) + STATE_SUFFIX;
  }

  private static long generationOf(String fileName) {
    if (fileName.length() != GENERATION_DIGITS + STATE_SUFFIX.length()) {
      return -1;
    }
    long g = 0;
    for (int i = 0; i < GENERATION_DIGITS; i++) {
      char c = fileName.charAt(i);
      if (c < '0' || c > '9' || g > (Long.MAX_VALUE - 9) / 10) {
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
        FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
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
