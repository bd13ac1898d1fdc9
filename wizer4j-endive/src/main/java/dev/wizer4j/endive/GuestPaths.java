package dev.wizer4j.endive;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * The one place that decides what a guest's WASI path may resolve to on the host.
 *
 * <p>A path is resolved against the directory of the descriptor it is relative to (its
 * <em>root</em>), one component at a time, the way the WASI filesystem path-resolution rules and
 * wasmtime (cap-std) do it:
 *
 * <ul>
 *   <li>an absolute path, a {@code ..} that would leave the root, and a symlink whose target is
 *       absolute are refused with EPERM, even if they would lead back inside;
 *   <li>a symlink is replaced by its target, read relative to the link's own directory (never the
 *       process's working directory), and resolution goes on component by component, so a link
 *       pointing out, a chain of links, a link to a directory that points out, and a dangling link
 *       whose target would be outside all end in EPERM;
 *   <li>every component but the last must be a directory; the last is followed only when asked
 *       (WASI's {@code LOOKUP_SYMLINK_FOLLOW}) or when the path ends with {@code /};
 *   <li>after 40 links (Linux's limit) the answer is ELOOP.
 * </ul>
 *
 * <p>The result is a path relative to the root that contains no symlink except possibly its last
 * component (when not followed), and no {@code .} or {@code ..}: handing it to a file API cannot
 * lead outside the root, whatever that API does with links, as long as the host directory tree does
 * not change between the resolution and the use. (The guest runs single-threaded and each WASI call
 * resolves then acts at once; another host process that swaps a directory for a symlink at that
 * instant is not defended against, unlike openat-based runtimes.)
 */
final class GuestPaths {
  /** Links followed in one resolution before giving up with ELOOP (Linux's MAXSYMLINKS). */
  static final int MAX_SYMLINKS = 40;

  private GuestPaths() {}

  /**
   * The outcome of a resolution: either an {@code errno} (a WASI errno value, non-zero) or the
   * resolved path, {@code relative} to the root (for the runtime's own WASI functions) and {@code
   * host} (the same file as a host path).
   */
  record Resolved(int errno, String relative, Path host) {
    static Resolved error(int errno) {
      return new Resolved(errno, null, null);
    }

    boolean ok() {
      return errno == 0;
    }
  }

  /**
   * Resolves {@code guestPath} inside {@code root}.
   *
   * @param followLast whether a symlink as the last component is followed
   */
  static Resolved resolve(Path root, String guestPath, boolean followLast) {
    if (guestPath.isEmpty()) {
      return Resolved.error(Errno.NOENT);
    }
    if (guestPath.indexOf('\0') >= 0) {
      return Resolved.error(Errno.INVAL);
    }
    if (guestPath.startsWith("/")) {
      return Resolved.error(Errno.PERM);
    }
    boolean trailingSlash = guestPath.endsWith("/");
    Deque<String> todo = new ArrayDeque<>(components(guestPath));
    List<String> done = new ArrayList<>();
    int links = 0;
    try {
      while (!todo.isEmpty()) {
        String c = todo.pollFirst();
        if (c.equals("..")) {
          if (done.isEmpty()) {
            return Resolved.error(Errno.PERM);
          }
          done.remove(done.size() - 1);
          continue;
        }
        boolean last = todo.isEmpty();
        Path here = host(root, done).resolve(c);
        BasicFileAttributes attrs;
        try {
          attrs = Files.readAttributes(here, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
          if (!last) {
            return Resolved.error(Errno.NOENT);
          }
          done.add(c);
          break;
        }
        if (attrs.isSymbolicLink() && (!last || followLast || trailingSlash)) {
          if (++links > MAX_SYMLINKS) {
            return Resolved.error(Errno.LOOP);
          }
          String target = Files.readSymbolicLink(here).toString();
          if (target.isEmpty()) {
            return Resolved.error(Errno.NOENT);
          }
          if (target.startsWith("/")) {
            return Resolved.error(Errno.PERM);
          }
          List<String> parts = components(target);
          for (int i = parts.size() - 1; i >= 0; i--) {
            todo.addFirst(parts.get(i));
          }
          continue;
        }
        if (!last && !attrs.isDirectory()) {
          return Resolved.error(Errno.NOTDIR);
        }
        done.add(c);
      }
    } catch (InvalidPathException e) {
      return Resolved.error(Errno.INVAL);
    } catch (FileSystemException e) {
      return Resolved.error(errno(e));
    } catch (IOException e) {
      return Resolved.error(Errno.IO);
    }
    String relative = done.isEmpty() ? "." : String.join("/", done);
    if (trailingSlash && !done.isEmpty()) {
      relative += "/";
    }
    return new Resolved(0, relative, host(root, done));
  }

  private static int errno(FileSystemException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return Errno.ACCES;
    }
    String reason = e.getReason() == null ? "" : e.getReason();
    if (reason.contains("Not a directory")) {
      return Errno.NOTDIR;
    }
    if (reason.contains("Permission denied")) {
      return Errno.ACCES;
    }
    if (reason.contains("Too many levels")) {
      return Errno.LOOP;
    }
    if (reason.contains("File name too long")) {
      return Errno.NAMETOOLONG;
    }
    return Errno.IO;
  }

  private static Path host(Path root, List<String> components) {
    Path p = root;
    for (String c : components) {
      p = p.resolve(c);
    }
    return p;
  }

  /** The components of a path, without empty ones (from {@code //}) and without {@code .}. */
  private static List<String> components(String path) {
    List<String> out = new ArrayList<>();
    for (String c : path.split("/")) {
      if (!c.isEmpty() && !c.equals(".")) {
        out.add(c);
      }
    }
    return out;
  }
}
