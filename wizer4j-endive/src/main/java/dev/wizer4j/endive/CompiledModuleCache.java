package dev.wizer4j.endive;

import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.SoftReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;
import run.endive.runtime.Instance;
import run.endive.runtime.Machine;
import run.endive.wasm.WasmModule;

/**
 * Compiled modules, kept so that a module is compiled once: in memory for the JVM's lifetime (the
 * machine factory itself, whose classes the JIT has already optimized: a second wizening of the
 * same module runs at full speed at once), and on disk as the bytecode Endive's compiler produced
 * (a cold JVM defines the classes instead of generating them).
 *
 * <p>Keys are the module's digest (SHA-256 of its bytes, computed by Endive's parser) together with
 * {@link #ENGINE}, the versions of Endive's compiler and runtime and of the class-file format: a
 * different Endive or JVM never reads another's entry.
 *
 * <p>Disk entries live in {@code $XDG_CACHE_HOME/wizer4j/compiled} (default {@code
 * ~/.cache/wizer4j/compiled}), a directory only its owner may use: entries are code this JVM will
 * run, so a directory that others can write is refused. Each entry is written to a temporary file
 * and moved into place, so concurrent runs see a whole entry or none; each starts with the SHA-256
 * of its payload, so a damaged entry is dropped, never loaded. The directory is bounded: after a
 * write, the least recently used entries are deleted until it holds at most {@link #maxBytes}.
 */
final class CompiledModuleCache {
  /** Entries of the in-memory cache; each holds a module's loaded classes. */
  static final int MEMORY_ENTRIES = 8;

  /** Default bound of the disk cache. A compiled 30 KB module is about 100-300 KB. */
  static final long DEFAULT_MAX_BYTES = 256L << 20;

  static final String ENGINE = engineVersion();

  private static final byte[] MAGIC = "wizer4j-compiled 1\n".getBytes(StandardCharsets.US_ASCII);
  private static final int HASH_BYTES = 32;

  /** The JVM-wide cache, shared by every EndiveRuntime that uses one. */
  private static final Map<String, SoftReference<Function<Instance, Machine>>> LOADED =
      new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(
            Map.Entry<String, SoftReference<Function<Instance, Machine>>> e) {
          return size() > MEMORY_ENTRIES;
        }
      };

  private final Path dir;
  private final long maxBytes;

  /**
   * A cache in memory, and on disk under {@code dir} unless it is null.
   *
   * @param maxBytes bound of the disk cache
   */
  CompiledModuleCache(Path dir, long maxBytes) {
    this.dir = dir;
    this.maxBytes = maxBytes;
  }

  /**
   * The cache of this process: system property {@code wizer4j.cache.dir} moves the disk side,
   * {@code wizer4j.cache.maxBytes} bounds it. Without a known Endive version, only the memory side
   * is used.
   */
  static CompiledModuleCache configured() {
    String d = System.getProperty("wizer4j.cache.dir");
    Path dir = d != null && !d.isEmpty() ? Path.of(d) : defaultDir();
    if (ENGINE.contains("unknown")) {
      dir = null;
    }
    long max = Long.getLong("wizer4j.cache.maxBytes", DEFAULT_MAX_BYTES);
    return new CompiledModuleCache(dir, max);
  }

  /** The user's cache directory for compiled modules, or null if there is none. */
  static Path defaultDir() {
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base;
    if (xdg != null && !xdg.isEmpty() && Path.of(xdg).isAbsolute()) {
      base = Path.of(xdg);
    } else {
      String home = System.getProperty("user.home");
      if (home == null || home.isEmpty() || home.equals("?")) {
        return null;
      }
      base = Path.of(home, ".cache");
    }
    return base.resolve("wizer4j").resolve("compiled");
  }

  /** The machine factory this JVM made for the same module, or null. */
  Function<Instance, Machine> loaded(WasmModule module) {
    String key = key(module);
    return key == null ? null : loadedFor(key);
  }

  void keepLoaded(WasmModule module, Function<Instance, Machine> machines) {
    String key = key(module);
    if (key != null) {
      synchronized (LOADED) {
        LOADED.put(key, new SoftReference<>(machines));
      }
    }
  }

  private static Function<Instance, Machine> loadedFor(String key) {
    synchronized (LOADED) {
      SoftReference<Function<Instance, Machine>> ref = LOADED.get(key);
      return ref == null ? null : ref.get();
    }
  }

  /** For tests: forget what this JVM compiled. */
  static void clearLoaded() {
    synchronized (LOADED) {
      LOADED.clear();
    }
  }

  /** The disk entry for a module digest, or null (no disk side, absent, or damaged). */
  byte[] read(String digest, Consumer<String> note) {
    if (dir == null) {
      return null;
    }
    byte[] data = read(dir.resolve(fileName(ENGINE + "/" + digest)));
    note.accept("compile cache: " + (data != null ? "hit" : "miss") + " in " + dir);
    return data;
  }

  /** Publishes a disk entry for a module digest unless one exists; failures are only noted. */
  void write(String digest, byte[] data, Consumer<String> note) {
    if (dir == null) {
      return;
    }
    try {
      write(fileName(ENGINE + "/" + digest), data);
    } catch (IOException | RuntimeException e) {
      note.accept("compile cache: not written (" + e.getMessage() + ")");
    }
  }

  private static String key(WasmModule module) {
    return module.digest() == null ? null : ENGINE + "/" + module.digest();
  }

  /** A file name for a key: hex of its SHA-256, so no key can name a path. */
  static String fileName(String key) {
    return HexFormat.of().formatHex(sha256(key.getBytes(StandardCharsets.UTF_8))) + ".bin";
  }

  private byte[] read(Path file) {
    byte[] all;
    try {
      if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
        return null;
      }
      all = Files.readAllBytes(file);
    } catch (IOException | RuntimeException e) {
      return null;
    }
    int head = MAGIC.length + HASH_BYTES;
    if (all.length < head
        || !Arrays.equals(all, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
        || !Arrays.equals(
            all,
            MAGIC.length,
            head,
            sha256(Arrays.copyOfRange(all, head, all.length)),
            0,
            HASH_BYTES)) {
      try {
        Files.deleteIfExists(file); // damaged: drop it, the caller compiles again
      } catch (IOException e) {
        // another run may be replacing it; either way it is not used
      }
      return null;
    }
    try {
      Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis()));
    } catch (IOException e) {
      // recency is only a hint for eviction
    }
    return Arrays.copyOfRange(all, head, all.length);
  }

  private void write(String name, byte[] payload) throws IOException {
    ensurePrivateDir(dir);
    Path target = dir.resolve(name);
    if (Files.exists(target)) {
      return;
    }
    Path tmp = Files.createTempFile(dir, name, ".tmp");
    try {
      try (var out = Files.newOutputStream(tmp)) {
        out.write(MAGIC);
        out.write(sha256(payload));
        out.write(payload);
      }
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
        return; // another run published the same entry, or this file system cannot do it safely
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
    prune();
  }

  /** Deletes least recently used entries until the directory holds at most maxBytes. */
  private void prune() throws IOException {
    record Entry(Path path, long size, long used) {}
    List<Entry> entries = new ArrayList<>();
    long total = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.bin")) {
      for (Path p : ds) {
        try {
          long size = Files.size(p);
          entries.add(new Entry(p, size, Files.getLastModifiedTime(p).toMillis()));
          total += size;
        } catch (NoSuchFileException e) {
          // pruned by a concurrent run
        }
      }
    }
    if (total <= maxBytes) {
      return;
    }
    entries.sort((a, b) -> Long.compare(a.used(), b.used()));
    for (Entry e : entries) {
      if (total <= maxBytes) {
        break;
      }
      Files.deleteIfExists(e.path());
      total -= e.size();
    }
  }

  /**
   * Creates {@code dir} readable and writable by its owner only, or checks that an existing one is
   * owned by this user and not writable by others.
   */
  static void ensurePrivateDir(Path dir) throws IOException {
    boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      Files.createDirectories(dir.getParent());
      try {
        if (posix) {
          Files.createDirectory(
              dir,
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } else {
          Files.createDirectory(dir);
        }
      } catch (FileAlreadyExistsException e) {
        // created by a concurrent run: checked below like any existing directory
      }
    }
    if (posix) {
      Set<PosixFilePermission> perms =
          Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
      String owner = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName();
      if (!owner.equals(System.getProperty("user.name"))
          || perms.contains(PosixFilePermission.GROUP_WRITE)
          || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
        throw new IOException(
            dir + " is not private to this user (owner " + owner + ", " + perms + ")");
      }
    }
  }

  private static byte[] sha256(byte[] b) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(b);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Versions the compiled bytecode depends on: Endive's compiler (what it generates) and runtime
   * (what the generated code calls), and the JVM's class-file version.
   */
  private static String engineVersion() {
    return "endive-compiler-"
        + mavenVersion("compiler")
        + "/runtime-"
        + mavenVersion("runtime")
        + "/java-"
        + Runtime.version().feature();
  }

  private static String mavenVersion(String artifact) {
    String res = "/META-INF/maven/run.endive/" + artifact + "/pom.properties";
    try (InputStream in = CompiledModuleCache.class.getResourceAsStream(res)) {
      if (in != null) {
        Properties p = new Properties();
        p.load(in);
        return p.getProperty("version", "unknown");
      }
    } catch (IOException e) {
      // fall through
    }
    return "unknown";
  }
}
