package dev.wizer4j.endive;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * This process's environment in the order the operating system keeps it, and whether its stdio is a
 * terminal.
 *
 * <p>wasmtime hands an inherited environment to the guest in the process's own order (Rust's {@code
 * std::env::vars()} walks {@code environ}), and a libc copies it into memory in that order, so the
 * order ends up in a snapshot. {@link System#getenv()} is a hash map; on Linux the order is read
 * from {@code /proc/self/environ}. Elsewhere, or for names it does not list, names are sorted.
 */
final class ProcessEnvironment {
  private static final Path PROC_ENVIRON = Path.of("/proc/self/environ");

  private ProcessEnvironment() {}

  /**
   * Whether this process's stdin and stdout are terminals, as far as the JDK tells: {@link
   * System#console()} is null otherwise up to JDK 21; from JDK 22 it may return a console for
   * redirected streams too, and {@code Console.isTerminal()} (looked up reflectively, as this
   * builds for Java 17) says whether it is one.
   */
  static boolean stdioIsTerminal() {
    java.io.Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return true; // JDK 17-21: a console exists only for a terminal
    }
  }

  /** {@link System#getenv()}, ordered as the process's environment block where it can be read. */
  static Map<String, String> inOrder() {
    Map<String, String> env = System.getenv();
    Map<String, String> ordered = new LinkedHashMap<>();
    byte[] block;
    try {
      block = Files.readAllBytes(PROC_ENVIRON);
    } catch (IOException | SecurityException | UnsupportedOperationException e) {
      block = new byte[0];
    }
    int start = 0;
    for (int i = 0; i <= block.length; i++) {
      if (i == block.length || block[i] == 0) {
        String entry = new String(block, start, i - start, StandardCharsets.UTF_8);
        start = i + 1;
        int eq = entry.indexOf('=');
        if (eq > 0) {
          String name = entry.substring(0, eq);
          // Only what the JVM reports, with its value: the two views come from the same block.
          if (env.containsKey(name) && !ordered.containsKey(name)) {
            ordered.put(name, env.get(name));
          }
        }
      }
    }
    new TreeMap<>(env).forEach(ordered::putIfAbsent);
    return ordered;
  }
}
