package dev.wizer4j.durable;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The stores every test runs against: a directory, embedded H2 (a file database), and PostgreSQL
 * when {@code WIZER4J_TEST_POSTGRES_URL} names one (CI sets it; elsewhere those cases are skipped
 * as assumptions, so the skip shows).
 */
final class Stores {
  static final String POSTGRES_ENV = "WIZER4J_TEST_POSTGRES_URL";

  enum Kind {
    DIRECTORY,
    H2,
    POSTGRES
  }

  static Stream<Kind> kinds() {
    return Stream.of(Kind.values());
  }

  /**
   * A fresh store, and a way to change its bytes behind its back (what an attacker or a bad disk
   * does).
   */
  interface Opened extends AutoCloseable {
    SnapshotStore store();

    /** How another process would open the same store: "dir:PATH" or a JDBC URL, plus table. */
    String spec();

    /** Replaces the stored bytes of {@code task}'s full state, keeping its generation. */
    void tamper(String task, byte[] bytes);

    /** Replaces the stored bytes of {@code task}'s delta of generation {@code generation}. */
    void tamperDelta(String task, long generation, byte[] bytes);

    @Override
    void close();
  }

  static Opened open(Kind kind, Path tmp) {
    return switch (kind) {
      case DIRECTORY -> directory(tmp);
      case H2 ->
          jdbc(
              "jdbc:h2:file:"
                  + tmp.resolve("h2db").toAbsolutePath()
                  + ";AUTO_SERVER=TRUE;DB_CLOSE_DELAY=-1");
      case POSTGRES -> {
        String url = System.getenv(POSTGRES_ENV);
        assumeTrue(url != null && !url.isBlank(), POSTGRES_ENV + " is not set");
        yield jdbc(url);
      }
    };
  }

  private static Opened directory(Path tmp) {
    DirectoryStore store = new DirectoryStore(tmp.resolve("store"));
    return new Opened() {
      @Override
      public SnapshotStore store() {
        return store;
      }

      @Override
      public String spec() {
        return "dir:" + store.root();
      }

      @Override
      public void tamper(String task, byte[] bytes) {
        try {
          Files.write(store.stateFile(task).orElseThrow(), bytes);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }

      @Override
      public void tamperDelta(String task, long generation, byte[] bytes) {
        Path file =
            store
                .root()
                .resolve("tasks")
                .resolve(task)
                .resolve(String.format("%020d.delta", generation));
        if (!Files.exists(file)) {
          throw new IllegalStateException("no delta " + generation + " of " + task);
        }
        try {
          Files.write(file, bytes);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }

      @Override
      public void close() {}
    };
  }

  private static Opened jdbc(String url) {
    String table = "t_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    JdbcStore store = JdbcStore.open(url, table);
    return new Opened() {
      @Override
      public SnapshotStore store() {
        return store;
      }

      @Override
      public String spec() {
        return url + "#" + table;
      }

      @Override
      public void tamper(String task, byte[] bytes) {
        try (Connection c = DriverManager.getConnection(url);
            PreparedStatement ps =
                c.prepareStatement(
                    "UPDATE " + table + " SET data = ? WHERE kind = 1 AND name = ?")) {
          ps.setBytes(1, bytes);
          ps.setString(2, task);
          if (ps.executeUpdate() != 1) {
            throw new IllegalStateException("no row for " + task);
          }
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      }

      @Override
      public void tamperDelta(String task, long generation, byte[] bytes) {
        try (Connection c = DriverManager.getConnection(url);
            PreparedStatement ps =
                c.prepareStatement(
                    "UPDATE " + table + "_deltas SET data = ? WHERE name = ? AND generation = ?")) {
          ps.setBytes(1, bytes);
          ps.setString(2, task);
          ps.setLong(3, generation);
          if (ps.executeUpdate() != 1) {
            throw new IllegalStateException("no delta " + generation + " of " + task);
          }
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      }

      @Override
      public void close() {
        store.close();
        try (Connection c = DriverManager.getConnection(url);
            Statement s = c.createStatement()) {
          s.execute("DROP TABLE " + table);
          s.execute("DROP TABLE " + store.deltasTable());
        } catch (SQLException e) {
          throw new IllegalStateException(e);
        }
      }
    };
  }

  /** Opens a store from {@link Opened#spec()}, as a child process does. */
  static SnapshotStore fromSpec(String spec) {
    if (spec.startsWith("dir:")) {
      return new DirectoryStore(Path.of(spec.substring(4)));
    }
    int hash = spec.lastIndexOf('#');
    return JdbcStore.open(spec.substring(0, hash), spec.substring(hash + 1));
  }

  private Stores() {}
}
