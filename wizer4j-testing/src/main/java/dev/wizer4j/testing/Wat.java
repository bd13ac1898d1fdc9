package dev.wizer4j.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Compiles WebAssembly text to binary with wabt's {@code wat2wasm}, for inline test modules. */
public final class Wat {
  private Wat() {}

  public static byte[] compile(String wat, String... flags) {
    try {
      Path dir = Files.createTempDirectory("wizer4j-wat");
      Path in = dir.resolve("m.wat");
      Path out = dir.resolve("m.wasm");
      try {
        Files.writeString(in, wat);
        List<String> cmd = new ArrayList<>(List.of("wat2wasm", "--enable-all", "--no-check"));
        cmd.addAll(Arrays.asList(flags));
        cmd.addAll(List.of(in.toString(), "-o", out.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
          throw new IllegalArgumentException("wat2wasm failed:\n" + log + "\n" + wat);
        }
        return Files.readAllBytes(out);
      } finally {
        Files.deleteIfExists(in);
        Files.deleteIfExists(out);
        Files.deleteIfExists(dir);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run wat2wasm (apt-get install wabt): " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Runs wabt's independent validator on {@code wasm}; returns null if valid, else its log. */
  public static String validate(byte[] wasm) {
    return validate(wasm, "--enable-all");
  }

  /** Like {@link #validate(byte[])}, with wabt's feature flags {@code features} instead. */
  public static String validate(byte[] wasm, String... features) {
    try {
      Path f = Files.createTempFile("wizer4j-validate", ".wasm");
      try {
        Files.write(f, wasm);
        List<String> cmd = new ArrayList<>(List.of("wasm-validate"));
        cmd.addAll(Arrays.asList(features));
        cmd.add(f.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
          return "wasm-validate timed out";
        }
        return p.exitValue() == 0 ? null : log;
      } finally {
        Files.deleteIfExists(f);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot run wasm-validate (apt-get install wabt): " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
