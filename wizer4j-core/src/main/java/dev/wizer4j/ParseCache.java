package dev.wizer4j;

import java.lang.ref.SoftReference;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * The last modules this JVM parsed and validated, so that wizening the same bytes again (a build
 * server, the Maven plugin, a durable-execution host, a second run in one JVM) skips the parse: for
 * a language runtime such as ruby.wasm it is most of a warm run.
 *
 * <p>An entry is found by length and CRC-32C and served only if its bytes equal the input's, so a
 * collision costs a parse, never a wrong context. Each entry keeps its own copy of the bytes (the
 * caller may reuse its array) and is held softly: under memory pressure the collector drops it.
 * Only modules that passed every check are kept; a rejected input is rejected again, in full.
 *
 * <p>The system property {@value #DISABLE} set to {@code true} turns the cache off (every parse is
 * done in full, nothing is kept), for a JVM that must not hold on to module bytes, or to measure
 * the cost of a parse.
 */
final class ParseCache {
  /** Two: a module and its instrumented output, or two modules built side by side. */
  private static final int ENTRIES = 2;

  /** The system property that turns the cache off. */
  static final String DISABLE = "wizer4j.parseCache.disable";

  private record Entry(
      int length, int crc, boolean instrumented, SoftReference<ModuleContext> cx) {}

  private static final Entry[] entries = new Entry[ENTRIES];
  private static int next;

  private ParseCache() {}

  static ModuleContext parse(byte[] bytes, boolean instrumented) {
    if (Boolean.getBoolean(DISABLE)) {
      return Parse.parse(bytes.clone(), instrumented);
    }
    CRC32C crc32c = new CRC32C();
    crc32c.update(bytes, 0, bytes.length);
    int crc = (int) crc32c.getValue();
    synchronized (entries) {
      for (Entry e : entries) {
        if (e != null
            && e.length == bytes.length
            && e.crc == crc
            && e.instrumented == instrumented) {
          ModuleContext cx = e.cx.get();
          if (cx != null && Arrays.equals(cx.bytes, bytes)) {
            return cx;
          }
        }
      }
    }
    ModuleContext cx = Parse.parse(bytes.clone(), instrumented);
    synchronized (entries) {
      entries[next] = new Entry(bytes.length, crc, instrumented, new SoftReference<>(cx));
      next = (next + 1) % ENTRIES;
    }
    return cx;
  }
}
