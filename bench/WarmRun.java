// Warm runs: wizens the same input several times in ONE JVM through the command line's own entry
// point (dev.wizer4j.cli.Main, reached by reflection because its run method is package-private),
// and prints the wall time of each run, one "run N: MS ms" line each, to stdout. The first run is
// cold (class loading, JIT, compile cache empty); later runs show what a build server, a Maven
// plugin or a durable-execution host gets when it wizens the same module again.
//
// Usage: java [JVM options] -cp wizer4j.jar bench/WarmRun.java RUNS [wizer4j arguments...]
// Each run writes the -o file again and reads the same stdin. Exit status: that of the first failing run, else 0.
import java.io.PrintStream;
import java.lang.reflect.Method;

public class WarmRun {
  public static void main(String[] argv) throws Exception {
    int runs = Integer.parseInt(argv[0]);
    String[] args = java.util.Arrays.copyOfRange(argv, 1, argv.length);
    Class<?> main = Class.forName("dev.wizer4j.cli.Main");
    Method run = main.getDeclaredMethod("run", String[].class, PrintStream.class, PrintStream.class);
    run.setAccessible(true);
    PrintStream out = System.out;
    // Every run reads the same stdin (StarlingMonkey's init takes its arguments from there).
    byte[] stdin = System.in.readAllBytes();
    for (int i = 1; i <= runs; i++) {
      System.setIn(new java.io.ByteArrayInputStream(stdin));
      long t0 = System.nanoTime();
      int code = (Integer) run.invoke(null, args, System.err, System.err);
      long t1 = System.nanoTime();
      out.printf("run %d: %.1f ms%n", i, (t1 - t0) / 1e6);
      out.flush();
      if (code != 0) {
        System.exit(code);
      }
    }
  }
}
