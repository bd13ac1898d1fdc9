package dev.wizer4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import run.endive.runtime.Instance;

/** {@code wizer4j 0.2.0 (Endive 1.0.0, Java 17.0.15)}: what a bug report needs. */
final class Version implements CommandLine.IVersionProvider {
  @Override
  public String[] getVersion() {
    return new String[] {
      "wizer4j "
          + property(Main.class, "version.properties", "version")
          + " (Endive "
          + property(Instance.class, "/META-INF/maven/run.endive/runtime/pom.properties", "version")
          + ", Java "
          + System.getProperty("java.version")
          + ")"
    };
  }

  /** A value from a properties resource next to {@code anchor}, or "unknown". */
  private static String property(Class<?> anchor, String resource, String key) {
    try (InputStream in = anchor.getResourceAsStream(resource)) {
      if (in != null) {
        Properties p = new Properties();
        p.load(in);
        String v = p.getProperty(key);
        if (v != null && !v.isBlank() && !v.startsWith("${")) {
          return v.trim();
        }
      }
    } catch (IOException e) {
      // fall through: a version is never worth a failure
    }
    return "unknown";
  }
}
