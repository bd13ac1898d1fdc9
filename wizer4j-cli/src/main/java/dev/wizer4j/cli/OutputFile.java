package dev.wizer4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes the output module into the path the user named, and only there.
 *
 * <ul>
 *   <li>A regular file, or a path where nothing exists yet, is replaced atomically: the bytes go to
 *       a temporary file in the same directory, are fsynced, and the temporary file is renamed over
 *       the path (then the directory is fsynced). A reader sees the old file or the new one, never
 *       a part; a failure leaves the old file as it was.
 *   <li>A symlink is never replaced: the file it leads to is written as above (a regular file, or a
 *       new file where a dangling link points), or written through (anything else).
 *   <li>Anything else that is not a directory (a FIFO, a character or block device such as {@code
 *       /dev/null}, and every path under {@code /dev/} or {@code /proc/}, such as {@code
 *       /dev/stdout}) is opened and written through, never replaced: a rename would swap the device
 *       or pipe for a plain file.
 *   <li>A directory is refused.
 * </ul>
 *
 * <p>A temporary file is removed on every way out: a failure, and the end of the JVM, including
 * SIGTERM, SIGINT and SIGHUP (a shutdown hook). Only SIGKILL or a power cut can leave one; its name
 * starts with a dot and ends with {@code .tmp}.
 */
final class OutputFile {
  /** Symlinks followed before giving up, as Linux's MAXSYMLINKS. */
  private static final int MAX_SYMLINKS = 40;

  /** Temporary files not yet renamed into place; the shutdown hook removes what is left. */
  private static final Set<Path> PENDING = ConcurrentHashMap.newKeySet();

  /**
   * Orders the rename against the shutdown hook: once the JVM shuts down (a signal), no rename
   * starts, and a rename under way finishes before the hook runs. So after a signal the path holds
   * the old file or the complete new one, and no temporary file is left.
   */
  private static final Object RENAME = new Object();

  private static boolean shuttingDown;

  static {
    Runtime.getRuntime()
        .addShutdownHook(new Thread(OutputFile::removePending, "wizer4j-remove-temporary"));
  }

  private static final SecureRandom RANDOM = new SecureRandom();

  private OutputFile() {}

  /** Writes {@code bytes} to {@code target} as described above. */
  static void write(Path target, byte[] bytes) throws IOException {
    // Not normalized: "link/.." is the parent of the link's target, as the kernel resolves it.
    Path abs = target.toAbsolutePath();
    try {
      Path lexical = abs.normalize();
      if (lexical.startsWith("/dev") || lexical.startsWith("/proc")) {
        // Device nodes and the kernel's magic links (/dev/stdout -> /proc/self/fd/1 -> a pipe)
        // are written through; no temporary file may be created there.
        writeThrough(target, abs, bytes);
        return;
      }
      BasicFileAttributes attrs = attributes(abs, true);
      if (attrs == null) {
        // Nothing there, or a dangling symlink: create the file the path leads to.
        atomically(target, finalPath(target, abs), bytes, null);
      } else if (attrs.isDirectory()) {
        throw new CliException("cannot write " + target + ": it is a directory");
      } else if (attrs.isRegularFile()) {
        atomically(target, finalPath(target, abs), bytes, abs);
      } else {
        writeThrough(target, abs, bytes);
      }
    } catch (CliException e) {
      throw e;
    } catch (IOException e) {
      throw new CliException("cannot write " + target + ": " + describe(e));
    }
  }

  /** Writes {@code bytes} to {@code stdout}, failing if any byte did not get there. */
  static void write(PrintStream stdout, byte[] bytes) {
    stdout.write(bytes, 0, bytes.length);
    stdout.flush();
    if (stdout.checkError()) {
      // PrintStream swallows I/O errors (a closed pipe, a full disk); a truncated module on
      // stdout must not end with status 0.
      throw new CliException("cannot write the module to stdout");
    }
  }

  /** The attributes of {@code p} (following links or not), or null if there is nothing. */
  private static BasicFileAttributes attributes(Path p, boolean follow) throws IOException {
    try {
      return follow
          ? Files.readAttributes(p, BasicFileAttributes.class)
          : Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  /**
   * The path that is not a symlink at the end of the chain of links that starts at {@code abs}
   * (which may not exist), each target read relative to its link's directory.
   */
  private static Path finalPath(Path target, Path abs) throws IOException {
    Path p = abs;
    for (int i = 0; i <= MAX_SYMLINKS; i++) {
      BasicFileAttributes a = attributes(p, false);
      if (a == null || !a.isSymbolicLink()) {
        return p;
      }
      p = p.getParent().resolve(Files.readSymbolicLink(p));
    }
    throw new CliException("cannot write " + target + ": too many levels of symbolic links");
  }

  /** Opens what is at {@code abs} (following links) and writes into it. */
  private static void writeThrough(Path target, Path abs, byte[] bytes) throws IOException {
    // TRUNCATE_EXISTING does nothing to devices and pipes; a regular file reached under /dev or
    // /proc (/dev/stdout redirected to a file) is truncated, as Wizer's File::create does.
    try (FileChannel ch =
        FileChannel.open(abs, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    } catch (NoSuchFileException e) {
      throw new CliException("cannot write " + target + ": no such file or device");
    }
  }

  /**
   * Writes {@code dest} through a temporary file beside it. {@code old} is what it replaces (its
   * permissions are kept), or null for a new file.
   */
  private static void atomically(Path target, Path dest, byte[] bytes, Path old)
      throws IOException {
    Path dir = dest.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new CliException("cannot write " + target + ": directory " + dir + " does not exist");
    }
    Path tmp = createTemporary(dir, dest.getFileName().toString());
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      setPermissions(tmp, old);
      synchronized (RENAME) {
        if (shuttingDown) {
          throw new CliException("cannot write " + target + ": interrupted");
        }
        try {
          Files.move(
              tmp, dest, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, dest, StandardCopyOption.REPLACE_EXISTING);
        }
      }
      syncDirectory(dir);
    } finally {
      Files.deleteIfExists(tmp);
      PENDING.remove(tmp);
    }
  }

  /**
   * Creates an empty temporary file {@code .NAME.RANDOM.tmp} in {@code dir}, registered for removal
   * before it exists, so that a signal at any instant cannot leave it behind.
   */
  private static Path createTemporary(Path dir, String name) throws IOException {
    for (int attempt = 0; ; attempt++) {
      byte[] r = new byte[8];
      RANDOM.nextBytes(r);
      Path tmp = dir.resolve("." + name + "." + HexFormat.of().formatHex(r) + ".tmp");
      synchronized (RENAME) {
        if (shuttingDown) {
          throw new CliException("cannot write " + name + ": interrupted");
        }
        PENDING.add(tmp);
        try {
          return Files.createFile(tmp, privateFile(tmp));
        } catch (FileAlreadyExistsException e) {
          PENDING.remove(tmp);
          if (attempt == 10) {
            throw e;
          }
        } catch (IOException | RuntimeException e) {
          PENDING.remove(tmp);
          throw e;
        }
      }
    }
  }

  private static java.nio.file.attribute.FileAttribute<?>[] privateFile(Path p) {
    if (!p.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return new java.nio.file.attribute.FileAttribute<?>[0];
    }
    return new java.nio.file.attribute.FileAttribute<?>[] {
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))
    };
  }

  /** The output gets the old file's mode, or rw-r--r-- when it is new. */
  private static void setPermissions(Path tmp, Path old) throws IOException {
    if (!tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return;
    }
    Set<PosixFilePermission> perms =
        old != null && Files.exists(old)
            ? Files.getPosixFilePermissions(old)
            : PosixFilePermissions.fromString("rw-r--r--");
    Files.setPosixFilePermissions(tmp, perms);
  }

  /** Makes the rename durable. Not every platform can open a directory; then it is skipped. */
  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // The file itself is synced; only the rename's durability across a power cut is at stake.
    }
  }

  private static void removePending() {
    synchronized (RENAME) {
      shuttingDown = true;
      for (Path p : PENDING) {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          // Nothing more can be done while the JVM shuts down.
        }
      }
    }
  }

  private static String describe(IOException e) {
    return e instanceof NoSuchFileException
        ? "no such file or directory"
        : CliException.describe(e);
  }
}
