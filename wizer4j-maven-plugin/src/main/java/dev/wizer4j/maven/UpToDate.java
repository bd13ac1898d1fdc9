package dev.wizer4j.maven;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Whether a {@code wizen} run may be skipped: a small stamp file holds a SHA-256 of everything the
 * output depends on (plugin version, configuration, input bytes, preload bytes, the listing of
 * mapped directories with sizes and times) and a SHA-256 of the output that run wrote. The run is
 * skipped only when both still match, so any change of input or configuration, and any change to or
 * deletion of the output, runs it again.
 */
final class UpToDate {
  /** Files read (name, bytes) and directories the guest may read. */
  record Read(Map<String, byte[]> files, List<Path> dirs) {}

  private final Path stamp;
  private final String pluginVersion;

  UpToDate(Path stamp, String pluginVersion) {
    this.stamp = stamp;
    this.pluginVersion = pluginVersion;
  }

  /** The hash of everything the output depends on. */
  String inputsHash(byte[] wasm, String config, Read read) throws IOException {
    MessageDigest d = sha256();
    field(d, "wizer4j-maven-plugin " + pluginVersion);
    field(d, config);
    field(d, wasm);
    for (Map.Entry<String, byte[]> f : read.files().entrySet()) {
      field(d, f.getKey());
      field(d, f.getValue());
    }
    for (Path dir : read.dirs()) {
      field(d, dir.toString());
      if (!Files.isDirectory(dir)) {
        continue; // the runtime reports it
      }
      try (Stream<Path> walk = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) walk.sorted()::iterator) {
          BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
          field(
              d,
              dir.relativize(p)
                  + " "
                  + a.size()
                  + " "
                  + a.lastModifiedTime().toMillis()
                  + (a.isDirectory() ? "/" : ""));
        }
      }
    }
    return HexFormat.of().formatHex(d.digest());
  }

  /** The last run had the same inputs and its output is still there, unchanged. */
  boolean isUpToDate(String inputsHash, Path output) throws IOException {
    if (!Files.isRegularFile(stamp) || !Files.isRegularFile(output)) {
      return false;
    }
    List<String> lines = Files.readAllLines(stamp, StandardCharsets.UTF_8);
    return lines.size() == 2
        && lines.get(0).equals(inputsHash)
        && lines
            .get(1)
            .equals(HexFormat.of().formatHex(sha256().digest(Files.readAllBytes(output))));
  }

  /** Remembers a successful run (written atomically, like the output). */
  void record(String inputsHash, Path output) throws IOException {
    String text =
        inputsHash
            + "\n"
            + HexFormat.of().formatHex(sha256().digest(Files.readAllBytes(output)))
            + "\n";
    Files.createDirectories(stamp.getParent());
    Path tmp = Files.createTempFile(stamp.getParent(), "." + stamp.getFileName() + ".", ".tmp");
    try {
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, stamp, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, stamp, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /** Length-prefixed, so that no two different field lists hash alike. */
  private static void field(MessageDigest d, String s) {
    field(d, s.getBytes(StandardCharsets.UTF_8));
  }

  private static void field(MessageDigest d, byte[] b) {
    long n = b.length;
    for (int i = 0; i < 8; i++) {
      d.update((byte) (n >>> (8 * i)));
    }
    d.update(b);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
