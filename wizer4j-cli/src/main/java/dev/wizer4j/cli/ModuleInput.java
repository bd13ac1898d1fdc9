package dev.wizer4j.cli;

import dev.wizer4j.Names;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** Reads a module (the input or a preload): binary as it is, WAT text through wabt's wat2wasm. */
final class ModuleInput {
  private ModuleInput() {}

  /** The module in {@code path}; {@code what} (e.g. "input") names it in errors. */
  static byte[] read(Path path, String what) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new CliException("cannot read " + what + " " + path + ": no such file");
    } catch (IOException e) {
      throw new CliException("cannot read " + what + " " + path + ": " + CliException.describe(e));
    }
    return toBinary(bytes, path.toString());
  }

  /** The module on this process's stdin. */
  static byte[] readStdin() throws IOException {
    return toBinary(System.in.readAllBytes(), "<stdin>");
  }

  /** Binary modules pass through; WAT text is converted with wabt's wat2wasm if installed. */
  static byte[] toBinary(byte[] bytes, String name) throws IOException {
    if (bytes.length >= 4
        && bytes[0] == 0
        && bytes[1] == 'a'
        && bytes[2] == 's'
        && bytes[3] == 'm') {
      return bytes;
    }
    if (!looksLikeText(bytes)) {
      return bytes; // let the parser report what is wrong, with its offset
    }
    Path tmpIn = Files.createTempFile("wizer4j-", ".wat");
    Path tmpOut = Files.createTempFile("wizer4j-", ".wasm");
    try {
      Files.write(tmpIn, bytes);
      Process p;
      try {
        p =
            new ProcessBuilder(
                    "wat2wasm", "--enable-all", tmpIn.toString(), "-o", tmpOut.toString())
                .redirectErrorStream(true)
                .start();
      } catch (IOException e) {
        throw new CliException(
            name
                + " is WebAssembly text (WAT); converting it needs wabt's `wat2wasm` on the PATH"
                + " (apt-get install wabt), or pass a binary .wasm module");
      }
      byte[] log;
      try (InputStream in = p.getInputStream()) {
        log = in.readAllBytes();
      }
      boolean done;
      try {
        done = p.waitFor(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CliException("interrupted while converting " + name);
      }
      if (!done || p.exitValue() != 0) {
        String text = new String(log, StandardCharsets.UTF_8).trim();
        text = text.replace(tmpIn.toString(), name);
        // wat2wasm shows the offending line and a caret under it; the first line says it all.
        int nl = text.indexOf('\n');
        throw new CliException(
            "cannot convert WAT "
                + name
                + ": "
                + Names.oneLine(nl < 0 ? text : text.substring(0, nl)));
      }
      return Files.readAllBytes(tmpOut);
    } finally {
      Files.deleteIfExists(tmpIn);
      Files.deleteIfExists(tmpOut);
    }
  }

  private static boolean looksLikeText(byte[] b) {
    int n = Math.min(b.length, 512);
    for (int i = 0; i < n; i++) {
      int c = b[i] & 0xff;
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return c == '(' || c == ';';
      }
    }
    return false;
  }
}
