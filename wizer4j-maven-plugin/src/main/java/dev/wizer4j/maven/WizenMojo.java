package dev.wizer4j.maven;

import dev.wizer4j.Progress;
import dev.wizer4j.Wizer;
import dev.wizer4j.WizerException;
import dev.wizer4j.endive.EndiveRuntime;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.maven.model.Resource;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;

/**
 * Pre-initializes a WebAssembly module during the build, as {@code wizer4j} does on the command
 * line, and adds the output's directory as a resource root so the result lands in the jar (and can
 * be the {@code wasmFile} of Endive's compiler plugin in a later phase).
 *
 * <p>Parameters map one to one onto {@link Wizer.Builder} and {@link EndiveRuntime.Builder}; the
 * pipeline lives there. The goal is skipped when the input, every file it reads, the configuration
 * and the plugin version are what they were at the last run and the output is still the one that
 * run wrote ({@link UpToDate}).
 */
@Mojo(name = "wizen", defaultPhase = LifecyclePhase.GENERATE_RESOURCES, threadSafe = true)
public final class WizenMojo extends AbstractMojo {
  /** The module to pre-initialize (binary {@code .wasm}). */
  @Parameter(property = "wizer4j.wasmFile", required = true)
  File wasmFile;

  /**
   * Where to write the result; default {@code
   * ${project.build.directory}/generated-resources/wizer4j/<wasmFile's name>}. Written atomically.
   */
  @Parameter(property = "wizer4j.outputFile")
  File outputFile;

  /** The export to call to initialize the module. */
  @Parameter(property = "wizer4j.initFunc", defaultValue = Wizer.DEFAULT_INIT_FUNC)
  String initFunc = Wizer.DEFAULT_INIT_FUNC;

  /** Keep the init function's export in the output. */
  @Parameter(property = "wizer4j.keepInitFunc", defaultValue = "false")
  boolean keepInitFunc;

  /** Function renames, each {@code DST=SRC}: export function SRC as DST. */
  @Parameter List<String> renames = new ArrayList<>();

  /** Keep the {@code __wizer_*} exports so that the output can be snapshotted again. */
  @Parameter(property = "wizer4j.keepInstrumentation", defaultValue = "false")
  boolean keepInstrumentation;

  /** Link real WASI preview1 during initialization (otherwise imports trap when called). */
  @Parameter(property = "wizer4j.allowWasi", defaultValue = "false")
  boolean allowWasi;

  /** With WASI, the guest's environment. Nothing of Maven's own is passed unless inheritEnv. */
  @Parameter Map<String, String> env = new TreeMap<>();

  /** With WASI, give the guest the environment Maven runs in (entries of env win). */
  @Parameter(property = "wizer4j.inheritEnv", defaultValue = "false")
  boolean inheritEnv;

  /** With WASI, directories visible to the guest under the same (project-relative) path. */
  @Parameter List<String> dirs = new ArrayList<>();

  /** With WASI, directories visible under another name, each {@code GUEST::HOST}. */
  @Parameter List<String> mapDirs = new ArrayList<>();

  /** Modules instantiated first, each {@code NAME=FILE}: their exports satisfy imports of NAME. */
  @Parameter List<String> preloads = new ArrayList<>();

  /** How Endive runs the init code: {@code auto}, {@code interpreter} or {@code compiler}. */
  @Parameter(property = "wizer4j.engine", defaultValue = "auto")
  String engine = "auto";

  /** With WASI, clocks that start at a fixed instant and a seeded {@code random_get}. */
  @Parameter(property = "wizer4j.deterministic", defaultValue = "false")
  boolean deterministic;

  /** Do nothing. */
  @Parameter(property = "wizer4j.skip", defaultValue = "false")
  boolean skip;

  @Parameter(defaultValue = "${project.basedir}", readonly = true)
  File basedir;

  @Parameter(defaultValue = "${project.build.directory}", readonly = true)
  File buildDirectory;

  @Parameter(defaultValue = "${project}", readonly = true)
  MavenProject project;

  @Override
  public void execute() throws MojoExecutionException, MojoFailureException {
    if (skip) {
      getLog().info("wizer4j: skipped (skip is true)");
      return;
    }
    Path in = wasmFile.toPath();
    Path out = output();
    try {
      Config config = config();
      UpToDate stamp = new UpToDate(stampFile(out), pluginVersion());
      byte[] wasm = readModule(in, "input");
      String hash = stamp.inputsHash(wasm, config.describe(), config.filesRead());
      if (stamp.isUpToDate(hash, out)) {
        getLog().info("wizer4j: " + relative(out) + " is up to date; skipping");
      } else {
        long start = System.nanoTime();
        byte[] result = config.wizer().run(wasm);
        writeAtomically(out, result);
        stamp.record(hash, out);
        getLog()
            .info(
                String.format(
                    Locale.ROOT,
                    "wizer4j: pre-initialized %s into %s (%d bytes) in %.0f ms",
                    relative(in),
                    relative(out),
                    result.length,
                    (System.nanoTime() - start) / 1e6));
      }
    } catch (WizerException | IllegalArgumentException | UserError e) {
      // The same one line as the command line prints after "error: ".
      throw new MojoFailureException(e.getMessage(), e);
    } catch (IOException e) {
      throw new MojoExecutionException("wizer4j: " + e.getMessage(), e);
    }
    addResourceRoot(out);
  }

  /** The configured output, or the default under generated-resources/wizer4j. */
  Path output() {
    if (outputFile != null) {
      return outputFile.toPath();
    }
    return buildDirectory
        .toPath()
        .resolve("generated-resources")
        .resolve("wizer4j")
        .resolve(wasmFile.getName());
  }

  /** Stamps live beside, not inside, the resource root, so they never land in the jar. */
  private Path stampFile(Path out) {
    String key = Integer.toHexString(out.toAbsolutePath().normalize().toString().hashCode());
    return buildDirectory
        .toPath()
        .resolve("wizer4j-stamps")
        .resolve(out.getFileName() + "-" + key + ".stamp");
  }

  private void addResourceRoot(Path out) {
    if (project == null) {
      return;
    }
    Resource r = new Resource();
    r.setDirectory(out.toAbsolutePath().getParent().toString());
    r.addInclude(out.getFileName().toString());
    project.addResource(r);
  }

  /** The builders, configured; and what of the configuration decides the output. */
  private Config config() throws IOException {
    Config c = new Config();
    c.describe.put("initFunc", initFunc);
    c.describe.put("keepInitFunc", keepInitFunc);
    c.describe.put("keepInstrumentation", keepInstrumentation);
    c.describe.put("allowWasi", allowWasi);
    c.describe.put("inheritEnv", inheritEnv);
    c.describe.put("engine", engine);
    c.describe.put("deterministic", deterministic);
    c.describe.put("output", output().toAbsolutePath().normalize().toString());

    Wizer.Builder b =
        Wizer.builder()
            .initFunc(initFunc)
            .keepInitFunc(keepInitFunc)
            .keepInstrumentation(keepInstrumentation)
            .progress(new LogProgress());
    for (String r : renames) {
      String[] pair = split(r, "=", "renames", "DST=SRC");
      b.renameFunc(pair[0], pair[1]);
    }
    c.describe.put("renames", List.copyOf(renames));

    EndiveRuntime.Builder rt =
        EndiveRuntime.builder()
            .allowWasi(allowWasi)
            .inheritEnv(inheritEnv)
            .deterministic(deterministic)
            .engine(engine(engine));
    Map<String, String> envs = new TreeMap<>();
    env.forEach((k, v) -> envs.put(k, v == null ? "" : v));
    envs.forEach(rt::env);
    c.describe.put("env", envs);
    if (inheritEnv) {
      // What the guest sees decides the output.
      c.describe.put("inherited", new TreeMap<>(System.getenv()));
    }
    for (String d : dirs) {
      Path host = basedir.toPath().resolve(d);
      rt.mapDir(d, host);
      c.dirs.add(host);
    }
    for (String m : mapDirs) {
      String[] pair = split(m, "::", "mapDirs", "GUEST::HOST");
      Path host = basedir.toPath().resolve(pair[1]);
      rt.mapDir(pair[0], host);
      c.dirs.add(host);
    }
    c.describe.put("dirs", List.copyOf(dirs));
    c.describe.put("mapDirs", List.copyOf(mapDirs));
    for (String p : preloads) {
      String[] pair = split(p, "=", "preloads", "NAME=FILE");
      Path file = basedir.toPath().resolve(pair[1]);
      byte[] bytes = readModule(file, "preload module");
      rt.preload(pair[0], bytes);
      c.files.put("preload " + pair[0], bytes);
    }
    c.wizer = b.runtime(rt.build()).build();
    return c;
  }

  /** What one configuration is made of. */
  private static final class Config {
    final Map<String, Object> describe = new TreeMap<>();
    final Map<String, byte[]> files = new TreeMap<>();
    final List<Path> dirs = new ArrayList<>();
    Wizer wizer;

    Wizer wizer() {
      return wizer;
    }

    String describe() {
      return describe.toString();
    }

    UpToDate.Read filesRead() {
      return new UpToDate.Read(files, dirs);
    }
  }

  private static String[] split(String value, String sep, String param, String form) {
    int i = value == null ? -1 : value.indexOf(sep);
    if (i <= 0 || i + sep.length() == value.length() || value.indexOf(sep, i + 1) >= 0) {
      throw new UserError(
          "invalid value '"
              + value
              + "' for '"
              + param
              + "': must be of the form "
              + form
              + " (one '"
              + sep
              + "')");
    }
    return new String[] {value.substring(0, i), value.substring(i + sep.length())};
  }

  private static EndiveRuntime.Engine engine(String s) {
    try {
      return EndiveRuntime.Engine.valueOf(s.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException | NullPointerException e) {
      throw new UserError(
          "invalid value '" + s + "' for 'engine': expected auto, interpreter or compiler");
    }
  }

  private static byte[] readModule(Path path, String what) {
    try {
      return Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new UserError("cannot read " + what + " " + path + ": no such file");
    } catch (IOException e) {
      throw new UserError("cannot read " + what + " " + path + ": " + describe(e));
    }
  }

  /**
   * Writes a temporary file in the output's directory, then renames it over the output: a failed or
   * interrupted build never leaves half a module behind.
   */
  static void writeAtomically(Path target, byte[] bytes) {
    Path abs = target.toAbsolutePath();
    try {
      Files.createDirectories(abs.getParent());
      if (Files.isDirectory(abs)) {
        throw new UserError("cannot write " + target + ": it is a directory");
      }
      Path tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName() + ".", ".tmp");
      try {
        Files.write(tmp, bytes);
        try {
          Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
        }
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UserError("cannot write " + target + ": " + describe(e));
    }
  }

  private static String describe(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
      return f.getReason();
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }

  private String relative(Path p) {
    Path abs = p.toAbsolutePath().normalize();
    Path base = basedir == null ? null : basedir.toPath().toAbsolutePath().normalize();
    return base != null && abs.startsWith(base) ? base.relativize(abs).toString() : abs.toString();
  }

  private static String pluginVersion() {
    try (InputStream in = WizenMojo.class.getResourceAsStream("plugin.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  /** Stages go to Maven's debug log ({@code mvn -X}); notes too. */
  private final class LogProgress implements Progress {
    @Override
    public void stage(String name) {
      getLog().debug("wizer4j: " + name);
    }

    @Override
    public void note(String message) {
      getLog().debug("wizer4j:   " + message);
    }
  }

  /** A mistake in the configuration or the files it names: the build fails with its message. */
  static final class UserError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    UserError(String message) {
      super(message);
    }
  }
}
