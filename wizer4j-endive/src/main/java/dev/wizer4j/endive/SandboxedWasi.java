package dev.wizer4j.endive;

import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotLinkException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import run.endive.runtime.HostFunction;
import run.endive.runtime.Instance;
import run.endive.runtime.Memory;
import run.endive.runtime.WasmFunctionHandle;
import run.endive.wasi.WasiPreview1;

/**
 * Endive's WASI preview1, with every path-taking function routed through {@link GuestPaths}, and
 * with wasmtime's answers where the WASI spec leaves the choice to the host and the answer ends up
 * in a snapshot.
 *
 * <p><b>Paths.</b>
 *
 * <p>Endive 1.0.0 checks a guest path lexically ({@code ..} and absolute paths are refused) and
 * then, for a followed symlink in the last component only, reads link targets relative to the
 * process's working directory. What that leaves open: a symlinked directory in the middle of a path
 * is never checked for creates, mkdir, unlink, rename and hard links (the guest can create and
 * delete files outside); a link that points inside through a relative target fails; an absolute
 * link that points inside is followed. Here each path function first resolves its paths with {@link
 * GuestPaths} against the host directory of the descriptor they are relative to, and then either
 * calls Endive's implementation with the resolved path (which holds no symlink and no {@code ..},
 * so Endive's own checks have nothing left to get wrong), or, where Endive's answer differs from
 * wasmtime's even for a path inside ({@code path_rename} always fails with ENOTSUP because it asks
 * for an atomic move that copies attributes; {@code path_readlink} returns only the last name of
 * the target; {@code path_symlink} stores an absolute host path), does the operation itself.
 *
 * <p><b>Answers.</b> Found by running {@code fixtures/c/wasi/probe.c} under Rust Wizer 11.0.3 and
 * under Endive: the rights in {@code fd_fdstat_get} (directories, files, stdio), {@code
 * fd_filestat_get} of stdio and of directories, the errno of the CPU-time clocks, and iovec lengths
 * longer than the memory. Each method below says what it changes.
 *
 * <p>Descriptors are known here by what they are (a stream, a directory with its host path, a file
 * with its rights): stdio and the preopens from the start, and whatever {@code path_open} opens
 * from then on; {@code fd_close} and {@code fd_renumber} keep the table in step. Every other WASI
 * function is Endive's, unchanged.
 */
final class SandboxedWasi implements Closeable {
  /** WASI {@code lookupflags.symlink_follow}. */
  private static final int LOOKUP_SYMLINK_FOLLOW = 1;

  /** WASI {@code oflags}: create, fail if it exists. */
  private static final int O_CREAT = 1;

  private static final int O_EXCL = 4;

  /** The first descriptor after stdin, stdout and stderr: Endive numbers preopens from here. */
  static final int FIRST_PREOPEN_FD = 3;

  /** WASI {@code fdflags}: append, non-blocking. */
  private static final int FDFLAGS_APPEND = 1;

  private static final int FDFLAGS_NONBLOCK = 4;

  /** WASI rights bits. */
  private static final long FD_READ = 1L << 1;

  private static final long FD_WRITE = 1L << 6;

  /** Every right WASI preview1 defines (bits 0 to 29). */
  private static final long ALL_RIGHTS = (1L << 30) - 1;

  /**
   * The rights wasmtime reports for a directory: the path operations and {@code
   * fd_filestat_get}/{@code fd_filestat_set_times}, without {@code path_filestat_set_size} and
   * without the file-only {@code fd_datasync}, {@code fd_sync}, {@code fd_fdstat_set_flags} and
   * {@code fd_filestat_set_size} that Endive includes (observed with Rust Wizer 11.0.3 and {@code
   * fixtures/c/wasi/probe.c}).
   */
  static final long DIRECTORY_RIGHTS = 0x7b7fe00L;

  /** What wasmtime reports a directory may pass on: its own rights and every file right. */
  static final long DIRECTORY_INHERITING_RIGHTS = 0xff7ffffL;

  /**
   * The rights wasmtime reports for a directory the guest opened with {@code path_open}, as base
   * and inheriting rights alike, whatever was asked for: every right but {@code fd_seek}, {@code
   * fd_write}, {@code path_filestat_set_size} and {@code fd_filestat_set_size} (observed as above).
   */
  static final long OPENED_DIRECTORY_RIGHTS = 0x3fb7ffbbL;

  /** WASI {@code filetype} values. */
  private static final byte FILETYPE_UNKNOWN = 0;

  private static final byte FILETYPE_CHARACTER_DEVICE = 2;

  private static final byte FILETYPE_DIRECTORY = 3;

  private static final byte FILETYPE_REGULAR_FILE = 4;

  private static final byte FILETYPE_SYMBOLIC_LINK = 7;

  /** What a descriptor is, as far as the answers here need to know. */
  private sealed interface Fd permits Stream, Dir, File {}

  /** Standard input, output or error. */
  private record Stream(boolean tty) implements Fd {}

  /** A directory, known by its host path; preopened or opened by the guest. */
  private record Dir(Path host, boolean preopened) implements Fd {}

  /**
   * A file, with the rights and flags it is reported to have, and the flags it was opened with (the
   * only ones Endive accepts in {@code fd_fdstat_set_flags}).
   */
  private record File(long rights, int openedFlags, int flags) implements Fd {}

  private final WasiPreview1 wasi;
  private final Map<Integer, Fd> fds = new HashMap<>();

  /**
   * @param preopens the host directories in the order they were given to Endive's {@code
   *     WasiOptions}, which numbers them from {@link #FIRST_PREOPEN_FD}
   * @param stdinTty whether stdin is a terminal (as told to Endive); likewise stdout and stderr
   */
  SandboxedWasi(
      WasiPreview1 wasi,
      List<Path> preopens,
      boolean stdinTty,
      boolean stdoutTty,
      boolean stderrTty) {
    this.wasi = wasi;
    fds.put(0, new Stream(stdinTty));
    fds.put(1, new Stream(stdoutTty));
    fds.put(2, new Stream(stderrTty));
    for (int i = 0; i < preopens.size(); i++) {
      fds.put(FIRST_PREOPEN_FD + i, new Dir(preopens.get(i), true));
    }
  }

  @Override
  public void close() {
    wasi.close();
  }

  HostFunction[] toHostFunctions() {
    HostFunction[] fns = wasi.toHostFunctions();
    for (int i = 0; i < fns.length; i++) {
      WasmFunctionHandle h = handle(fns[i].name());
      if (h != null) {
        fns[i] = new HostFunction(fns[i].module(), fns[i].name(), fns[i].functionType(), h);
      }
    }
    return fns;
  }

  private WasmFunctionHandle handle(String name) {
    return switch (name) {
      case "path_open" -> (inst, a) -> result(pathOpen(inst, a));
      case "path_filestat_get" -> (inst, a) -> result(pathFilestatGet(inst, a));
      case "path_filestat_set_times" -> (inst, a) -> result(pathFilestatSetTimes(inst, a));
      case "path_create_directory" -> (inst, a) -> result(pathCreateDirectory(inst, a));
      case "path_remove_directory" -> (inst, a) -> result(pathRemoveDirectory(inst, a));
      case "path_unlink_file" -> (inst, a) -> result(pathUnlinkFile(inst, a));
      case "path_link" -> (inst, a) -> result(pathLink(inst, a));
      case "path_rename" -> (inst, a) -> result(pathRename(inst, a));
      case "path_symlink" -> (inst, a) -> result(pathSymlink(inst, a));
      case "path_readlink" -> (inst, a) -> result(pathReadlink(inst, a));
      case "fd_fdstat_get" -> (inst, a) -> result(fdFdstatGet(inst, a));
      case "fd_filestat_get" -> (inst, a) -> result(fdFilestatGet(inst, a));
      case "clock_res_get" ->
          (inst, a) -> result(clock(wasi.clockResGet(inst.memory(), (int) a[0], (int) a[1])));
      case "clock_time_get" ->
          (inst, a) ->
              result(clock(wasi.clockTimeGet(inst.memory(), (int) a[0], a[1], (int) a[2])));
      case "fd_read", "fd_write", "fd_pread", "fd_pwrite" ->
          (inst, a) -> result(iovsFit(inst, a[1], a[2]) ? delegate(name, inst, a) : Errno.NOMEM);
      case "fd_fdstat_set_flags" -> (inst, a) -> result(fdFdstatSetFlags(a));
        // Endive answers ENOTSUP, as wasmtime does, but also logs a SEVERE line to stderr.
      case "fd_fdstat_set_rights" -> (inst, a) -> result(Errno.NOTSUP);
      case "fd_close" -> (inst, a) -> result(fdClose(a));
      case "fd_renumber" -> (inst, a) -> result(fdRenumber(a));
      default -> null;
    };
  }

  /**
   * The process and thread CPU-time clocks: Endive answers ENOTSUP, wasmtime EBADF (the spec leaves
   * it open); a libc passes the errno on to the program.
   */
  private static int clock(int errno) {
    return errno == Errno.NOTSUP ? Errno.BADF : errno;
  }

  /**
   * Whether every buffer of an iovec list is no longer than the guest's memory. Endive allocates
   * each buffer of {@code fd_read} at its declared length before looking at the memory, so a guest
   * with one page could make the host allocate 2 GiB; wasmtime answers such a call with ENOMEM (and
   * so does this, for reads and writes alike, also for the lengths of 2 GiB and more that Endive
   * answers with EINVAL). A shorter buffer that runs past the end of memory is left to Endive,
   * which traps when it touches memory outside, as wasmtime does.
   */
  private static boolean iovsFit(Instance inst, long iovs, long count) {
    Memory memory = inst.memory();
    long size = (long) memory.pages() * Memory.PAGE_SIZE;
    for (long i = 0; i < Integer.toUnsignedLong((int) count); i++) {
      int len = memory.readInt((int) (iovs + 8 * i + 4));
      if (Integer.toUnsignedLong(len) > size) {
        return false;
      }
    }
    return true;
  }

  private int delegate(String name, Instance inst, long[] a) {
    Memory m = inst.memory();
    return switch (name) {
      case "fd_read" -> wasi.fdRead(m, (int) a[0], (int) a[1], (int) a[2], (int) a[3]);
      case "fd_write" -> wasi.fdWrite(m, (int) a[0], (int) a[1], (int) a[2], (int) a[3]);
      case "fd_pread" -> wasi.fdPread(m, (int) a[0], (int) a[1], (int) a[2], a[3], (int) a[4]);
      case "fd_pwrite" -> wasi.fdPwrite(m, (int) a[0], (int) a[1], (int) a[2], a[3], (int) a[4]);
      default -> throw new IllegalArgumentException(name);
    };
  }

  private static long[] result(int errno) {
    return new long[] {errno};
  }

  private static String string(Instance inst, long ptr, long len) {
    return inst.memory().readString((int) ptr, (int) len);
  }

  /**
   * Resolves a path relative to directory descriptor {@code fd}; a descriptor that is not a
   * directory known here is answered as Endive answers it, never by touching a path.
   */
  private GuestPaths.Resolved resolve(int fd, String path, boolean followLast) {
    Path root = fds.get(fd) instanceof Dir d ? d.host() : null;
    if (root == null) {
      // Endive checks the descriptor before the path: EBADF or ENOTDIR. ".." is refused
      // lexically by Endive, so nothing is touched even if the descriptor were a directory.
      int errno = wasi.pathCreateDirectory(fd, "..");
      return new GuestPaths.Resolved(
          errno == 0 ? Errno.BADF : errno, null, null); // errno is never 0 here
    }
    return GuestPaths.resolve(root, path, followLast);
  }

  private int pathOpen(Instance inst, long[] a) {
    int fd = (int) a[0];
    int lookup = (int) a[1];
    String path = string(inst, a[2], a[3]);
    int oflags = (int) a[4];
    boolean exclusive = (oflags & O_CREAT) != 0 && (oflags & O_EXCL) != 0;
    // O_CREAT|O_EXCL never follows a link in the last component: whatever is there, it exists.
    var r = resolve(fd, path, (lookup & LOOKUP_SYMLINK_FOLLOW) != 0 && !exclusive);
    if (!r.ok()) {
      return r.errno();
    }
    if (exclusive && Files.exists(r.host(), LinkOption.NOFOLLOW_LINKS)) {
      return Errno.EXIST;
    }
    Memory memory = inst.memory();
    int fdPtr = (int) a[8];
    // The resolved path has no link left to follow (or must not follow its last one): Endive's
    // own link handling, which reads targets relative to the working directory, stays unused.
    int errno =
        wasi.pathOpen(
            memory,
            fd,
            lookup & ~LOOKUP_SYMLINK_FOLLOW,
            r.relative(),
            oflags,
            a[5],
            a[6],
            (int) a[7],
            fdPtr);
    if (errno == 0) {
      int opened = memory.readInt(fdPtr);
      if (Files.isDirectory(r.host(), LinkOption.NOFOLLOW_LINKS)) {
        fds.put(opened, new Dir(r.host(), false));
      } else {
        int fdflags = (int) a[7];
        fds.put(opened, new File(fileRights(a[5], oflags, fdflags), fdflags, fdflags));
      }
    }
    return errno;
  }

  private int pathFilestatGet(Instance inst, long[] a) {
    int fd = (int) a[0];
    int lookup = (int) a[1];
    var r = resolve(fd, string(inst, a[2], a[3]), (lookup & LOOKUP_SYMLINK_FOLLOW) != 0);
    if (!r.ok()) {
      return r.errno();
    }
    return wasi.pathFilestatGet(
        inst.memory(), fd, lookup & ~LOOKUP_SYMLINK_FOLLOW, r.relative(), (int) a[4]);
  }

  private int pathFilestatSetTimes(Instance inst, long[] a) {
    int fd = (int) a[0];
    int lookup = (int) a[1];
    var r = resolve(fd, string(inst, a[2], a[3]), (lookup & LOOKUP_SYMLINK_FOLLOW) != 0);
    if (!r.ok()) {
      return r.errno();
    }
    if (Files.isSymbolicLink(r.host())) {
      // Endive sets times through links (it has no lutimes); a link's own times are not
      // settable here rather than letting the call reach the link's target.
      return Errno.NOTSUP;
    }
    return wasi.pathFilestatSetTimes(fd, 0, r.relative(), a[4], a[5], (int) a[6]);
  }

  private int pathCreateDirectory(Instance inst, long[] a) {
    int fd = (int) a[0];
    var r = resolve(fd, string(inst, a[1], a[2]), false);
    return r.ok() ? wasi.pathCreateDirectory(fd, r.relative()) : r.errno();
  }

  private int pathRemoveDirectory(Instance inst, long[] a) {
    int fd = (int) a[0];
    var r = resolve(fd, string(inst, a[1], a[2]), false);
    return r.ok() ? wasi.pathRemoveDirectory(fd, r.relative()) : r.errno();
  }

  private int pathUnlinkFile(Instance inst, long[] a) {
    int fd = (int) a[0];
    var r = resolve(fd, string(inst, a[1], a[2]), false);
    return r.ok() ? wasi.pathUnlinkFile(fd, r.relative()) : r.errno();
  }

  private int pathLink(Instance inst, long[] a) {
    int oldFd = (int) a[0];
    int oldFlags = (int) a[1];
    int newFd = (int) a[4];
    var from = resolve(oldFd, string(inst, a[2], a[3]), (oldFlags & LOOKUP_SYMLINK_FOLLOW) != 0);
    if (!from.ok()) {
      return from.errno();
    }
    var to = resolve(newFd, string(inst, a[5], a[6]), false);
    if (!to.ok()) {
      return to.errno();
    }
    return wasi.pathLink(
        oldFd, oldFlags & ~LOOKUP_SYMLINK_FOLLOW, from.relative(), newFd, to.relative());
  }

  private int pathRename(Instance inst, long[] a) {
    var from = resolve((int) a[0], string(inst, a[1], a[2]), false);
    if (!from.ok()) {
      return from.errno();
    }
    var to = resolve((int) a[3], string(inst, a[4], a[5]), false);
    if (!to.ok()) {
      return to.errno();
    }
    Path src = from.host();
    Path dst = to.host();
    if (!Files.exists(src, LinkOption.NOFOLLOW_LINKS)) {
      return Errno.NOENT;
    }
    boolean srcDir = Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS);
    if (srcDir && Files.isRegularFile(dst, LinkOption.NOFOLLOW_LINKS)) {
      return Errno.NOTDIR;
    }
    if (!srcDir && Files.isDirectory(dst, LinkOption.NOFOLLOW_LINKS)) {
      return Errno.ISDIR;
    }
    try {
      // rename(2): replaces a file (or an empty directory) at the destination, atomically.
      Files.move(src, dst, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      return Errno.XDEV;
    } catch (IOException e) {
      return errno(e);
    }
    return 0;
  }

  private int pathSymlink(Instance inst, long[] a) {
    String contents = string(inst, a[0], a[1]);
    var r = resolve((int) a[2], string(inst, a[3], a[4]), false);
    if (!r.ok()) {
      return r.errno();
    }
    if (contents.isEmpty()) {
      return Errno.NOENT;
    }
    if (contents.indexOf('\0') >= 0) {
      return Errno.INVAL;
    }
    if (contents.startsWith("/")) {
      // As wasmtime: a link to an absolute path could never be followed inside the sandbox.
      return Errno.PERM;
    }
    try {
      // Stored as given, like symlinkat(2): the contents are only text until a lookup follows
      // them, and every lookup here goes through GuestPaths.
      Files.createSymbolicLink(r.host(), r.host().getFileSystem().getPath(contents));
    } catch (IOException | RuntimeException e) {
      return e instanceof IOException io ? errno(io) : Errno.INVAL;
    }
    return 0;
  }

  private int pathReadlink(Instance inst, long[] a) {
    var r = resolve((int) a[0], string(inst, a[1], a[2]), false);
    if (!r.ok()) {
      return r.errno();
    }
    String target;
    try {
      target = Files.readSymbolicLink(r.host()).toString();
    } catch (NotLinkException e) {
      return Errno.INVAL;
    } catch (IOException e) {
      return errno(e);
    }
    if (target.startsWith("/")) {
      // As wasmtime: an absolute target names a host path, which the guest is not told.
      return Errno.PERM;
    }
    byte[] contents = target.getBytes(StandardCharsets.UTF_8);
    // As wasmtime: the contents are cut to the buffer.
    int used = (int) Math.min(contents.length, Integer.toUnsignedLong((int) a[4]));
    Memory memory = inst.memory();
    memory.write((int) a[3], contents, 0, used);
    memory.writeI32((int) a[5], used);
    return 0;
  }

  /**
   * The rights wasmtime reports for an open file: every right, less {@code fd_read} or {@code
   * fd_write} when the file cannot be read or written; whatever rights were asked for. Whether it
   * can is decided by how Endive opens it: for writing with {@code fd_write}, {@code O_CREAT} or
   * append, for reading with {@code fd_read} unless appending, and for reading when nothing else.
   */
  private static long fileRights(long requested, int oflags, int fdflags) {
    boolean append = (fdflags & FDFLAGS_APPEND) != 0;
    boolean writable = (requested & FD_WRITE) != 0 || (oflags & O_CREAT) != 0 || append;
    boolean readable = (!append && (requested & FD_READ) != 0) || !writable;
    return ALL_RIGHTS & ~(readable ? 0 : FD_READ) & ~(writable ? 0 : FD_WRITE);
  }

  /**
   * Endive's answer with wasmtime's rights: a directory's as {@link #DIRECTORY_RIGHTS} or {@link
   * #OPENED_DIRECTORY_RIGHTS}, a file's as {@link #fileRights}, and a standard stream passes on its
   * own rights (Endive: none).
   */
  private int fdFdstatGet(Instance inst, long[] a) {
    int fd = (int) a[0];
    int buf = (int) a[1];
    Memory memory = inst.memory();
    int errno = wasi.fdFdstatGet(memory, fd, buf);
    if (errno != 0) {
      return errno;
    }
    Fd kind = fds.get(fd);
    if (kind instanceof Dir d && d.preopened()) {
      memory.writeLong(buf + 8, DIRECTORY_RIGHTS);
      memory.writeLong(buf + 16, DIRECTORY_INHERITING_RIGHTS);
    } else if (kind instanceof Dir) {
      memory.writeLong(buf + 8, OPENED_DIRECTORY_RIGHTS);
      memory.writeLong(buf + 16, OPENED_DIRECTORY_RIGHTS);
    } else if (kind instanceof File f) {
      memory.writeShort(buf + 2, (short) f.flags());
      memory.writeLong(buf + 8, f.rights());
      memory.writeLong(buf + 16, f.rights());
    } else if (kind instanceof Stream) {
      memory.writeLong(buf + 16, memory.readLong(buf + 8));
    }
    return 0;
  }

  /**
   * Non-blocking mode on a file: wasmtime accepts it and reports it in {@code fd_fdstat_get};
   * Endive refuses any change from the flags a file was opened with (ENOTSUP). The flag has no
   * effect on a regular file, so it is accepted and reported here; other changes (append) are still
   * Endive's to refuse.
   */
  private int fdFdstatSetFlags(long[] a) {
    int fd = (int) a[0];
    int flags = (int) a[1];
    if (!(fds.get(fd) instanceof File f)) {
      return wasi.fdFdstatSetFlags(fd, flags);
    }
    int asOpened = (flags & ~FDFLAGS_NONBLOCK) | (f.openedFlags() & FDFLAGS_NONBLOCK);
    int errno = wasi.fdFdstatSetFlags(fd, asOpened);
    if (errno == 0) {
      fds.put(fd, new File(f.rights(), f.openedFlags(), flags));
    }
    return errno;
  }

  /**
   * Endive's answer for files. A standard stream is all zeros but its type (Endive: a character
   * device with one link), as wasmtime; a directory is stat'ed here (Endive traps on a preopen).
   */
  private int fdFilestatGet(Instance inst, long[] a) {
    int fd = (int) a[0];
    int buf = (int) a[1];
    Memory memory = inst.memory();
    Fd kind = fds.get(fd);
    if (kind instanceof Stream s) {
      memory.write(buf, new byte[64]);
      memory.writeByte(buf + 16, s.tty() ? FILETYPE_CHARACTER_DEVICE : FILETYPE_UNKNOWN);
      return 0;
    }
    if (kind instanceof Dir d) {
      Map<String, Object> attrs;
      try {
        attrs = Files.readAttributes(d.host(), "unix:*");
      } catch (IOException e) {
        return errno(e);
      } catch (UnsupportedOperationException e) {
        return Errno.NOTSUP;
      }
      writeFilestat(memory, buf, attrs);
      return 0;
    }
    return wasi.fdFilestatGet(memory, fd, buf);
  }

  /** Writes a WASI {@code filestat} (64 bytes) from the attributes of the "unix" view. */
  private static void writeFilestat(Memory memory, int buf, Map<String, Object> attrs) {
    byte type;
    if ((boolean) attrs.get("isDirectory")) {
      type = FILETYPE_DIRECTORY;
    } else if ((boolean) attrs.get("isRegularFile")) {
      type = FILETYPE_REGULAR_FILE;
    } else if ((boolean) attrs.get("isSymbolicLink")) {
      type = FILETYPE_SYMBOLIC_LINK;
    } else {
      type = FILETYPE_UNKNOWN;
    }
    memory.write(buf, new byte[64]);
    memory.writeLong(buf, ((Number) attrs.get("dev")).longValue());
    memory.writeLong(buf + 8, ((Number) attrs.get("ino")).longValue());
    memory.writeByte(buf + 16, type);
    memory.writeLong(buf + 24, ((Number) attrs.get("nlink")).longValue());
    memory.writeLong(buf + 32, ((Number) attrs.get("size")).longValue());
    memory.writeLong(buf + 40, nanos(attrs.get("lastAccessTime")));
    memory.writeLong(buf + 48, nanos(attrs.get("lastModifiedTime")));
    memory.writeLong(buf + 56, nanos(attrs.get("ctime")));
  }

  private static long nanos(Object fileTime) {
    return ((java.nio.file.attribute.FileTime) fileTime)
        .to(java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  private int fdClose(long[] a) {
    int fd = (int) a[0];
    int errno = wasi.fdClose(fd);
    if (errno == 0) {
      fds.remove(fd);
    }
    return errno;
  }

  private int fdRenumber(long[] a) {
    int from = (int) a[0];
    int to = (int) a[1];
    int errno = wasi.fdRenumber(from, to);
    if (errno == 0 && from != to) {
      Fd moved = fds.remove(from);
      fds.remove(to);
      if (moved != null) {
        fds.put(to, moved);
      }
    }
    return errno;
  }

  private static int errno(IOException e) {
    if (e instanceof NoSuchFileException) {
      return Errno.NOENT;
    }
    if (e instanceof FileAlreadyExistsException) {
      return Errno.EXIST;
    }
    if (e instanceof DirectoryNotEmptyException) {
      return Errno.NOTEMPTY;
    }
    if (e instanceof java.nio.file.AccessDeniedException) {
      return Errno.ACCES;
    }
    if (e instanceof FileSystemException f
        && f.getReason() != null
        && f.getReason().contains("Not a directory")) {
      return Errno.NOTDIR;
    }
    return Errno.IO;
  }
}
