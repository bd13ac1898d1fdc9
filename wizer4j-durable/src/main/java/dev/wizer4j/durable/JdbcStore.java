package dev.wizer4j.durable;

import dev.wizer4j.durable.DurableException.Conflict;
import dev.wizer4j.durable.DurableException.StoreFailure;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;

/**
 * A {@link SnapshotStore} in one table of any JDBC database; workers on many machines can share one
 * (PostgreSQL is the tested server; embedded H2 the tested local one).
 *
 * <pre>
 * CREATE TABLE IF NOT EXISTS wizer4j_durable (
 *   kind       SMALLINT     NOT NULL,    -- 1 task state, 2 guest module
 *   name       VARCHAR(128) NOT NULL,    -- task name, or guest hash
 *   generation BIGINT       NOT NULL,    -- 0 for guests
 *   updated_ms BIGINT       NOT NULL,    -- when it was written, ms since 1970
 *   size       BIGINT       NOT NULL,    -- bytes in data
 *   data       BYTEA (PostgreSQL) or BLOB (others) NOT NULL,
 *   PRIMARY KEY (kind, name))
 * </pre>
 *
 * <p>The table is created if missing. Every write is one statement in auto-commit mode: a new task
 * is an {@code INSERT} (a duplicate key means someone else created it: a conflict), a save is
 * {@code UPDATE ... WHERE kind = 1 AND name = ? AND generation = ?} (no row updated: a conflict).
 * The database makes each statement atomic and isolated, so no lock is held between statements and
 * a worker that dies mid-step leaves nothing to clean up.
 */
public final class JdbcStore implements SnapshotStore {
  static final int TASK = 1;
  static final int GUEST = 2;

  private final Connections connections;
  private final String table;

  /** A store in table {@code wizer4j_durable} of {@code dataSource}, created if missing. */
  public JdbcStore(DataSource dataSource) {
    this(dataSource, "wizer4j_durable");
  }

  /** A store in {@code table} (letters, digits, underscores) of {@code dataSource}. */
  public JdbcStore(DataSource dataSource, String table) {
    this(new PerCall(Objects.requireNonNull(dataSource, "dataSource")), table);
  }

  private JdbcStore(Connections connections, String table) {
    this.connections = connections;
    if (!table.matches("[A-Za-z_][A-Za-z0-9_]{0,62}")) {
      throw new IllegalArgumentException("table must be an SQL identifier: `" + table + "`");
    }
    this.table = table;
    createTable();
  }

  /**
   * A store reached through {@link DriverManager} with a JDBC URL ({@code jdbc:h2:file:...}, {@code
   * jdbc:postgresql://host/db?user=...}). It keeps one connection, opened on first use and again if
   * it breaks, and lets one operation at a time use it; give a pooled {@link DataSource} to {@link
   * #JdbcStore(DataSource)} for many threads. Close the store to close the connection.
   */
  public static JdbcStore open(String url) {
    return open(url, "wizer4j_durable");
  }

  /** Like {@link #open(String)}, in {@code table}. */
  public static JdbcStore open(String url, String table) {
    return new JdbcStore(new Shared(Objects.requireNonNull(url, "url")), table);
  }

  @Override
  public void close() {
    connections.close();
  }

  /** The table this store keeps its rows in. */
  public String table() {
    return table;
  }

  private void createTable() {
    try (Connection c = connections.get()) {
      String product = c.getMetaData().getDatabaseProductName();
      // Not BINARY VARYING for H2, although it is faster there: with 2 MB values H2 2.5.252 failed
      // to read back its own file after some updates (MVStoreException), while BLOB holds.
      String blob = "PostgreSQL".equalsIgnoreCase(product) ? "BYTEA" : "BLOB";
      String ddl =
          "CREATE TABLE IF NOT EXISTS "
              + table
              + " (kind SMALLINT NOT NULL, name VARCHAR(128) NOT NULL,"
              + " generation BIGINT NOT NULL, updated_ms BIGINT NOT NULL, size BIGINT NOT NULL,"
              + " data "
              + blob
              + " NOT NULL, PRIMARY KEY (kind, name))";
      boolean existed = tableExists(c);
      try (Statement s = c.createStatement()) {
        s.execute(ddl);
        if (!existed && blob.equals("BYTEA")) {
          // States are mostly incompressible memory; without this, PostgreSQL tries to compress
          // every saved state (pglz), which took most of a step with 2 MB of state.
          s.execute("ALTER TABLE " + table + " ALTER COLUMN data SET STORAGE EXTERNAL");
        }
      } catch (SQLException e) {
        // Two workers creating the table at once: one wins, the other sees it exists.
        if (!tableExists(c)) {
          throw e;
        }
      }
    } catch (SQLException e) {
      throw failure("cannot create table " + table, e);
    }
  }

  private boolean tableExists(Connection c) {
    try (Statement s = c.createStatement()) {
      s.executeQuery("SELECT COUNT(*) FROM " + table + " WHERE 1 = 0").close();
      return true;
    } catch (SQLException e) {
      return false;
    }
  }

  @Override
  public Optional<Stored> load(String task) {
    SnapshotStore.checkTaskName(task);
    String sql =
        "SELECT generation, updated_ms, data FROM " + table + " WHERE kind = ? AND name = ?";
    try (Connection c = connections.get();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, TASK);
      ps.setString(2, task);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(
            new Stored(task, rs.getLong(1), rs.getBytes(3), Instant.ofEpochMilli(rs.getLong(2))));
      }
    } catch (SQLException e) {
      throw failure("cannot load task `" + task + "`", e);
    }
  }

  @Override
  public long save(String task, long expectedGeneration, byte[] bytes) {
    SnapshotStore.checkTaskName(task);
    if (expectedGeneration < 0) {
      throw new IllegalArgumentException("expectedGeneration must be >= 0");
    }
    long next = expectedGeneration + 1;
    long now = System.currentTimeMillis();
    try (Connection c = connections.get()) {
      if (expectedGeneration == 0) {
        String sql =
            "INSERT INTO "
                + table
                + " (kind, name, generation, updated_ms, size, data) VALUES (?, ?, ?, ?, ?, ?)";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
          ps.setInt(1, TASK);
          ps.setString(2, task);
          ps.setLong(3, next);
          ps.setLong(4, now);
          ps.setLong(5, bytes.length);
          ps.setBytes(6, bytes);
          ps.executeUpdate();
          return next;
        } catch (SQLException e) {
          long actual = generation(c, task);
          if (actual != 0) {
            throw new Conflict(task, 0, actual);
          }
          throw e;
        }
      }
      String sql =
          "UPDATE "
              + table
              + " SET generation = ?, updated_ms = ?, size = ?, data = ?"
              + " WHERE kind = ? AND name = ? AND generation = ?";
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setLong(1, next);
        ps.setLong(2, now);
        ps.setLong(3, bytes.length);
        ps.setBytes(4, bytes);
        ps.setInt(5, TASK);
        ps.setString(6, task);
        ps.setLong(7, expectedGeneration);
        if (ps.executeUpdate() != 1) {
          throw new Conflict(task, expectedGeneration, generation(c, task));
        }
        return next;
      }
    } catch (SQLException e) {
      throw failure("cannot save task `" + task + "`", e);
    }
  }

  /** The stored generation of a task, 0 if there is none. */
  private long generation(Connection c, String task) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT generation FROM " + table + " WHERE kind = ? AND name = ?")) {
      ps.setInt(1, TASK);
      ps.setString(2, task);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? rs.getLong(1) : 0;
      }
    }
  }

  @Override
  public List<TaskInfo> list() {
    String sql =
        "SELECT name, generation, size, updated_ms FROM " + table + " WHERE kind = ? ORDER BY name";
    List<TaskInfo> out = new ArrayList<>();
    try (Connection c = connections.get();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, TASK);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(
              new TaskInfo(
                  rs.getString(1),
                  rs.getLong(2),
                  rs.getLong(3),
                  Instant.ofEpochMilli(rs.getLong(4))));
        }
      }
    } catch (SQLException e) {
      throw failure("cannot list tasks", e);
    }
    // Sorted here too: the database's collation may order names differently from Java.
    out.sort((a, b) -> a.task().compareTo(b.task()));
    return out;
  }

  @Override
  public boolean delete(String task, long expectedGeneration) {
    SnapshotStore.checkTaskName(task);
    String sql =
        "DELETE FROM "
            + table
            + " WHERE kind = ? AND name = ?"
            + (expectedGeneration >= 0 ? " AND generation = ?" : "");
    try (Connection c = connections.get();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, TASK);
      ps.setString(2, task);
      if (expectedGeneration >= 0) {
        ps.setLong(3, expectedGeneration);
      }
      if (ps.executeUpdate() == 1) {
        return true;
      }
      long actual = generation(c, task);
      if (actual == 0) {
        return false;
      }
      throw new Conflict(task, expectedGeneration, actual);
    } catch (SQLException e) {
      throw failure("cannot delete task `" + task + "`", e);
    }
  }

  @Override
  public void putGuest(String hash, byte[] wasm) {
    SnapshotStore.checkGuestHash(hash);
    try (Connection c = connections.get()) {
      if (loadGuest(c, hash).isPresent()) {
        return;
      }
      String sql =
          "INSERT INTO "
              + table
              + " (kind, name, generation, updated_ms, size, data) VALUES (?, ?, 0, ?, ?, ?)";
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setInt(1, GUEST);
        ps.setString(2, hash);
        ps.setLong(3, System.currentTimeMillis());
        ps.setLong(4, wasm.length);
        ps.setBytes(5, wasm);
        ps.executeUpdate();
      } catch (SQLException e) {
        // stored meanwhile by another worker: the same bytes, since the name is their hash
        if (loadGuest(c, hash).isEmpty()) {
          throw e;
        }
      }
    } catch (SQLException e) {
      throw failure("cannot store guest " + hash, e);
    }
  }

  @Override
  public Optional<byte[]> loadGuest(String hash) {
    SnapshotStore.checkGuestHash(hash);
    try (Connection c = connections.get()) {
      return loadGuest(c, hash);
    } catch (SQLException e) {
      throw failure("cannot load guest " + hash, e);
    }
  }

  private Optional<byte[]> loadGuest(Connection c, String hash) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("SELECT data FROM " + table + " WHERE kind = ? AND name = ?")) {
      ps.setInt(1, GUEST);
      ps.setString(2, hash);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.empty();
      }
    }
  }

  @Override
  public List<String> guests() {
    List<String> out = new ArrayList<>();
    try (Connection c = connections.get();
        PreparedStatement ps =
            c.prepareStatement("SELECT name FROM " + table + " WHERE kind = ? ORDER BY name")) {
      ps.setInt(1, GUEST);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(rs.getString(1));
        }
      }
    } catch (SQLException e) {
      throw failure("cannot list guests", e);
    }
    out.sort(null);
    return out;
  }

  private static StoreFailure failure(String what, SQLException e) {
    return new StoreFailure(
        what
            + ": "
            + (e.getMessage() == null
                ? e.getClass().getSimpleName()
                : e.getMessage().strip().replace('\n', ' ')),
        e);
  }

  /** Where connections come from; {@link Connection#close()} gives one back. */
  private interface Connections {
    Connection get() throws SQLException;

    default void close() {}
  }

  /** A connection of the caller's {@link DataSource} per operation (pooled or not: its choice). */
  private record PerCall(DataSource dataSource) implements Connections {
    @Override
    public Connection get() throws SQLException {
      return dataSource.getConnection();
    }
  }

  /**
   * One {@link DriverManager} connection, reopened when it is no longer valid, lent to one
   * operation at a time; the lent handle's {@code close()} gives it back instead of closing it.
   */
  private static final class Shared implements Connections {
    private final String url;
    private final ReentrantLock lock = new ReentrantLock();
    private Connection connection;

    Shared(String url) {
      this.url = url;
    }

    @Override
    public Connection get() throws SQLException {
      lock.lock();
      try {
        if (connection == null || !connection.isValid(10)) {
          closeQuietly();
          connection = DriverManager.getConnection(url);
        }
        Connection real = connection;
        AtomicBoolean returned = new AtomicBoolean();
        return (Connection)
            Proxy.newProxyInstance(
                Connection.class.getClassLoader(),
                new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("close") && method.getParameterCount() == 0) {
                    if (returned.compareAndSet(false, true)) {
                      lock.unlock();
                    }
                    return null;
                  }
                  try {
                    return method.invoke(real, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
      } catch (SQLException | RuntimeException e) {
        lock.unlock();
        throw e;
      }
    }

    @Override
    public void close() {
      lock.lock();
      try {
        closeQuietly();
      } finally {
        lock.unlock();
      }
    }

    private void closeQuietly() {
      if (connection != null) {
        try {
          connection.close();
        } catch (SQLException e) {
          // a broken connection is replaced; closing it is a courtesy
        }
        connection = null;
      }
    }
  }
}
