package dev.wizer4j.cli;

import dev.wizer4j.cli.CliException.UsageException;
import dev.wizer4j.cli.OptionValues.Env;
import dev.wizer4j.cli.OptionValues.Pair;
import dev.wizer4j.cli.OptionValues.Preopen;
import dev.wizer4j.endive.EndiveRuntime;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options of the runtime that links and runs the init code, mapped onto {@link
 * EndiveRuntime.Builder}: WASI and what it gives the guest, preloads, the engine and its cache.
 */
final class RuntimeOptions {
  /** Endive's parser reads this property when first used; "none" skips the module digest. */
  private static final String DIGEST_PROPERTY = "run.endive.wasm.Parser.DIGEST_ALGORITHM";

  @Option(
      names = "--allow-wasi",
      description = "Link real WASI preview1 during initialization (default: imports trap).")
  boolean allowWasi;

  @Option(
      names = "--inherit-stdio",
      arity = "0..1",
      fallbackValue = "true",
      defaultValue = "true",
      paramLabel = "true|false",
      description = "With WASI, give the guest this process's stdio (default: true).")
  boolean inheritStdio;

  @Option(
      names = "--inherit-env",
      arity = "0..1",
      fallbackValue = "true",
      defaultValue = "false",
      paramLabel = "true|false",
      description = "With WASI, give the guest this process's environment (default: false).")
  boolean inheritEnv;

  @Option(
      names = "--env",
      paramLabel = "NAME[=VALUE]",
      converter = OptionValues.EnvEntry.class,
      description =
          "With WASI, set an environment variable for the guest; without a value, take it from"
              + " this process's environment (skipped if unset). Repeatable.")
  List<Env> envs = new ArrayList<>();

  @Option(
      names = "--dir",
      paramLabel = "DIR|HOST::GUEST",
      converter = OptionValues.Dir.class,
      description =
          "With WASI, make DIR visible to the guest under the same path, or (as wasmtime writes"
              + " it) host directory HOST as GUEST. Repeatable.")
  List<Preopen> dirs = new ArrayList<>();

  @Option(
      names = "--mapdir",
      paramLabel = "GUEST::HOST",
      converter = OptionValues.MapDir.class,
      description = "With WASI, make host directory HOST visible as GUEST. Repeatable.")
  List<Preopen> mapDirs = new ArrayList<>();

  @Option(
      names = "--preload",
      paramLabel = "NAME=FILE",
      converter = OptionValues.EqualsPair.class,
      description =
          "Instantiate FILE (.wasm or .wat) first; its exports satisfy imports from module NAME."
              + " It is not snapshotted. Repeatable.")
  List<Pair> preloads = new ArrayList<>();

  @Option(
      names = "--engine",
      paramLabel = "auto|interpreter|compiler",
      defaultValue = "auto",
      converter = OptionValues.Engine.class,
      description =
          "How Endive runs the init code: its interpreter (starts at once), or its compiler"
              + " to JVM bytecode (pays ~0.5 s or more up front, then runs compute-heavy inits"
              + " 10x faster or more). auto: the compiler for modules of up to a million"
              + " instructions, else the interpreter (default: ${DEFAULT-VALUE}).")
  EndiveRuntime.Engine engine;

  @Option(
      names = "--no-cache",
      description =
          "Neither read nor write compiled modules in the cache directory"
              + " ($XDG_CACHE_HOME/wizer4j, default ~/.cache/wizer4j).")
  boolean noCache;

  @Option(
      names = "--deterministic",
      description =
          "With WASI, the clocks start at 2000-01-01T00:00:00Z and advance only as the guest reads"
              + " them, and random_get is a seeded stream: init that reads time or randomness"
              + " gives the same output on every run.")
  boolean deterministic;

  /**
   * The runtime these options describe; the guest's stdout goes to {@code guestStdout} unless it is
   * null. Preload files are read last, so a usage error is always reported before them.
   */
  EndiveRuntime build(OutputStream guestStdout) throws IOException {
    if (noCache && System.getProperty(DIGEST_PROPERTY) == null) {
      // The compile cache is keyed by the digest; without the cache, skip its cost.
      System.setProperty(DIGEST_PROPERTY, "none");
    }
    EndiveRuntime.Builder rt =
        EndiveRuntime.builder()
            .allowWasi(allowWasi)
            .inheritStdio(inheritStdio)
            .inheritEnv(inheritEnv)
            .engine(engine)
            .compileCache(!noCache)
            .deterministic(deterministic);
    if (guestStdout != null) {
      rt.stdout(guestStdout);
    }
    for (Env e : envs) {
      if (e.value() != null) {
        UsageException.check(() -> rt.env(e.name(), e.value()));
      }
    }
    for (Preopen d : dirs) {
      rt.mapDir(d.guest(), d.host());
    }
    for (Preopen d : mapDirs) {
      rt.mapDir(d.guest(), d.host());
    }
    for (Pair p : preloads) {
      byte[] wasm = ModuleInput.read(Path.of(p.right()), "preload module");
      UsageException.check(() -> rt.preload(p.left(), wasm));
    }
    return rt.build();
  }
}
