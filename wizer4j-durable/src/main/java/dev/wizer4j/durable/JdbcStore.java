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
 * A {@link SnapshotStore} in two tables of any JDBC database; workers on many machines can share
 * one (PostgreSQL is the tested server; embedded H2 the tested local one).
 *
 * <pre>
 * CREATE TABLE IF NOT EXISTS wizer4j_durable (
 *   kind       SMALLINT     NOT NULL,    -- 1 task state, 2 guest module
 *   name       VARCHAR(128) NOT NULL,    -- task name, or guest hash
 *   generation BIGINT       NOT NULL,    -- the task's newest generation; 0 for guests
 *   updated_ms BIGINT       NOT NULL,    -- when it was written, ms since 1970
 *   size       BIGINT       NOT NULL,    -- bytes in data plus the task's deltas
 *   data       BYTEA (PostgreSQL) or BLOB (others) NOT NULL,   -- the full state, or the guest
 *   PRIMARY KEY (kind, name))
 * CREATE TABLE IF NOT EXISTS wizer4j_durable_deltas (
 *   name       VARCHAR(128) NOT NULL,    -- task name
 *   generation BIGINT       NOT NULL,    -- the generation this delta makes
 *   data       BYTEA (PostgreSQL) or BLOB (others) NOT NULL,
 *   PRIMARY KEY (name, generation))
 * </pre>
 *
 * <p>Both tables are created if missing; a database written before deltas existed gains the second
 * table and keeps working. The deltas table is named after the main one plus {@code _deltas}, so
 * the main table's name is at most 56 characters (PostgreSQL cuts identifiers at 63).
 *
 * <p>A task whose main row is at generation {@code g} and which has {@code k} delta rows has its
 * full state at generation {@code g - k} and deltas {@code g - k + 1 .. g}. The main row's
 * generation is the one every compare-and-swap tests, and every write first changes that row, so
 * writers of one task queue on that row's lock and a write that finds another generation changes
 * nothing:
 *
 * <ul>
 *   <li>a new task: {@code INSERT} of the main row (a duplicate key means someone else created it:
 *       a conflict), then {@code DELETE} of any delta rows of that name, in one transaction; there
 *       should be none, as a delete removes both in one transaction, but a row deleted by hand must
 *       not leave old deltas to be read after a new full state;
 *   <li>a full save: {@code UPDATE ... WHERE kind = 1 AND name = ? AND generation = ?} (no row
 *       updated: a conflict), then {@code DELETE} of the task's delta rows, in one transaction;
 *   <li>a delta: the same {@code UPDATE} of generation, time and size (data untouched), then an
 *       {@code INSERT} of the delta row, in one transaction;
 *   <li>a delete: {@code DELETE} of the main row at the expected generation, then of the task's
 *       delta rows, in one transaction.
 * </ul>
 *
 * <p>A load reads the main row, then the delta rows up to its generation, in one read-only
 * transaction at an isolation level that reads every table as of one moment: {@code REPEATABLE
 * READ} (PostgreSQL's is snapshot isolation), and H2's own {@code SNAPSHOT} on H2, whose {@code
 * REPEATABLE READ} snapshots each table only when first read. So the deltas are those of the same
 * moment as the full state even while a full save deletes them. Another database must give one
 * snapshot at {@code REPEATABLE READ} too (MySQL's InnoDB does; one that takes read locks instead
 * is consistent but makes loads and saves wait for each other). Delta rows that are not exactly the
 * generations after the full state mean a damaged store and fail the load. Each operation restores
 * the connection's auto-commit, isolation and read-only settings, so pooled connections go back as
 * they came; a worker that dies mid-step leaves an uncommitted transaction that the database rolls
 * back, nothing to clean up.
 */
public final class JdbcStore implements SnapshotStore {
  static final int TASK = 1;
  static final int GUEST = 2;

  /**
   * Longest main table name: its deltas table adds {@code _deltas}, and PostgreSQL identifiers are
   * at most 63 characters (longer ones are cut, which would merge two stores' deltas).
   */
  static final int MAX_TABLE_NAME = 63 - "_deltas".length();

  /**
   * H2's own isolation level {@code SNAPSHOT} (not a {@link Connection} constant): H2 2.x at {@code
   * REPEATABLE READ} takes each table's snapshot when a transaction first reads that table, so a
   * load could read the main row before a compaction and the deltas after it (JdbcStoreTest shows
   * it); at {@code SNAPSHOT} all tables are read as of one moment.
   */
  static final int H2_SNAPSHOT = 6;

  private final Connections connections;
  private final String table;
  private final String deltas;

  /** The isolation level at which a load reads both tables as of one moment. */
  private int snapshotIsolation = Connection.TRANSACTION_REPEATABLE_READ;

  /** A store in table {@code wizer4j_durable} of {@code dataSource}, created if missing. */
  public JdbcStore(DataSource dataSource) {
    this(dataSource, "wizer4j_durable");
  }

  /**
   * A store in {@code table} (letters, digits, underscores; at most 56 characters) and {@code
   * table_deltas} of {@code dataSource}.
   */
  public JdbcStore(DataSource dataSource, String table) {
    this(new PerCall(Objects.requireNonNull(dataSource, "dataSource")), table);
  }

  private JdbcStore(Connections connections, String table) {
    this.connections = connections;
    if (!table.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw new IllegalArgumentException("table must be an SQL identifier: `" + table + "`");
    }
    if (table.length() > MAX_TABLE_NAME) {
      throw new IllegalArgumentException(
          "table must be at most "
              + MAX_TABLE_NAME
              + " characters (deltas go in table `"
              + table
              + "_deltas`, and database identifiers are at most 63), got "
              + table.length());
    }
    this.table = table;
    this.deltas = table + "_deltas";
    createTables();
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

  /** The table this store keeps its tasks' full states and its guests in. */
  public String table() {
    return table;
  }

  /** The table this store keeps its tasks' deltas in: {@link #table()} plus {@code _deltas}. */
  public String deltasTable() {
    return deltas;
  }

  private void createTables() {
    try (Connection c = connections.get()) {
      String product = c.getMetaData().getDatabaseProductName();
      // Not BINARY VARYING for H2, although it is faster there: with 2 MB values H2 2.5.252 failed
      // to read back its own file after some updates (MVStoreException), while BLOB holds.
      String blob = "PostgreSQL".equalsIgnoreCase(product) ? "BYTEA" : "BLOB";
      if ("H2".equalsIgnoreCase(product)) {
        snapshotIsolation = H2_SNAPSHOT;
      }
      createTable(
          c,
          table,
          " (kind SMALLINT NOT NULL, name VARCHAR(128) NOT NULL,"
              + " generation BIGINT NOT NULL, updated_ms BIGINT NOT NULL, size BIGINT NOT NULL,"
              + " data "
              + blob
              + " NOT NULL, PRIMARY KEY (kind, name))",
          blob);
      createTable(
          c,
          deltas,
          " (name VARCHAR(128) NOT NULL, generation BIGINT NOT NULL, data "
              + blob
              + " NOT NULL, PRIMARY KEY (name, generation))",
          blob);
    } catch (SQLException e) {
      throw failure("cannot create tables " + table + " and " + deltas, e);
    }
  }

  private static void createTable(Connection c, String name, String columns, String blob)
      throws SQLException {
    boolean existed = tableExists(c, name);
    try (Statement s = c.createStatement()) {
      s.execute("CREATE TABLE IF NOT EXISTS " + name + columns);
      if (!existed && blob.equals("BYTEA")) {
        // States are mostly incompressible memory; without this, PostgreSQL tries to compress
        // every saved state (pglz), which took most of a step with 2 MB of state.
        s.execute("ALTER TABLE " + name + " ALTER COLUMN data SET STORAGE EXTERNAL");
      }
    } catch (SQLException e) {
      // Two workers creating the table at once: one wins, the other sees it exists.
      if (!tableExists(c, name)) {
        throw e;
      }
    }
  }

  private static boolean tableExists(Connection c, String name) {
    try (Statement s = c.createStatement()) {
      s.executeQuery("SELECT COUNT(*) FROM " + name + " WHERE 1 = 0").close();
      return true;
    } catch (SQLException e) {
      return false;
    }
  }

  @Override
  public Optional<Stored> load(String task) {
    return load(task, () -> {});
  }

  /**
   * {@link #load(String)}, running {@code betweenReads} after the main row is read and before the
   * deltas are: tests write through another connection there to show the two reads see one moment.
   */
  Optional<Stored> load(String task, Runnable betweenReads) {
    SnapshotStore.checkTaskName(task);
    try (Connection c = connections.get()) {
      return transaction(
          c, snapshotIsolation, tx -> Optional.ofNullable(read(tx, task, betweenReads)));
    } catch (SQLException e) {
      throw failure("cannot load task `" + task + "`", e);
    }
  }

  /** The task's main row and its deltas, read in the caller's snapshot; null if there is none. */
  private Stored read(Connection c, String task, Runnable betweenReads) throws SQLException {
    long generation;
    long updated;
    byte[] full;
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT generation, updated_ms, data FROM " + table + " WHERE kind = ? AND name = ?")) {
      ps.setInt(1, TASK);
      ps.setString(2, task);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return null;
        }
        generation = rs.getLong(1);
        updated = rs.getLong(2);
        full = rs.getBytes(3);
      }
    }
    betweenReads.run();
    List<Long> generations = new ArrayList<>();
    List<byte[]> found = new ArrayList<>();
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT generation, data FROM "
                + deltas
                + " WHERE name = ? AND generation <= ? ORDER BY generation")) {
      ps.setString(1, task);
      ps.setLong(2, generation);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          generations.add(rs.getLong(1));
          found.add(rs.getBytes(2));
        }
      }
    }
    checkDeltas(task, generation, generations);
    return new Stored(task, generation, full, found, Instant.ofEpochMilli(updated));
  }

  /**
   * Checks that the delta rows read, ascending and distinct (their key), are exactly the
   * generations after a full state of generation 1 or later and up to the main row's: anything else
   * means rows were lost or left behind outside this store's transactions.
   */
  private static void checkDeltas(String task, long generation, List<Long> generations) {
    int k = generations.size();
    if (k == 0) {
      return;
    }
    long first = generations.get(0);
    long last = generations.get(k - 1);
    if (first != generation - k + 1 || last != generation || first < 2) {
      throw new StoreFailure(
          "task `"
              + task
              + "`: the store is damaged: its newest generation is "
              + generation
              + " but its "
              + k
              + " delta rows are generations "
              + first
              + " to "
              + last
              + ", not "
              + (generation - k + 1)
              + " to "
              + generation
              + " after a full state",
          null);
    }
  }

  @Override
  public long save(String task, long expectedGeneration, byte[] bytes) {
    SnapshotStore.checkTaskName(task);
    Objects.requireNonNull(bytes, "bytes");
    long next = SnapshotStore.nextGeneration(expectedGeneration);
    long now = System.currentTimeMillis();
    try (Connection c = connections.get()) {
      return write(
          c,
          task,
          expectedGeneration,
          tx -> {
            if (expectedGeneration == 0) {
              try (PreparedStatement ps =
                  tx.prepareStatement(
                      "INSERT INTO "
                          + table
                          + " (kind, name, generation, updated_ms, size, data)"
                          + " VALUES (?, ?, ?, ?, ?, ?)")) {
                ps.setInt(1, TASK);
                ps.setString(2, task);
                ps.setLong(3, next);
                ps.setLong(4, now);
                ps.setLong(5, bytes.length);
                ps.setBytes(6, bytes);
                ps.executeUpdate();
              }
            } else {
              if (!advance(tx, task, expectedGeneration, next, now, bytes, 0)) {
                return null;
              }
            }
            deleteDeltas(tx, task);
            return next;
          });
    } catch (SQLException e) {
      throw failure("cannot save task `" + task + "`", e);
    }
  }

  @Override
  public boolean supportsDeltas() {
    return true;
  }

  @Override
  public long saveDelta(String task, long expectedGeneration, byte[] delta) {
    SnapshotStore.checkTaskName(task);
    Objects.requireNonNull(delta, "delta");
    long next = SnapshotStore.nextGeneration(expectedGeneration);
    long now = System.currentTimeMillis();
    try (Connection c = connections.get()) {
      return write(
          c,
          task,
          expectedGeneration,
          tx -> {
            // The main row first: it is the compare-and-swap, and its lock orders the writers.
            if (!advance(tx, task, expectedGeneration, next, now, null, delta.length)) {
              return null;
            }
            try (PreparedStatement ps =
                tx.prepareStatement(
                    "INSERT INTO " + deltas + " (name, generation, data) VALUES (?, ?, ?)")) {
              ps.setString(1, task);
              ps.setLong(2, next);
              ps.setBytes(3, delta);
              ps.executeUpdate();
            }
            return next;
          });
    } catch (SQLException e) {
      throw failure("cannot save a delta of task `" + task + "`", e);
    }
  }

  /**
   * The compare-and-swap on a task's main row: moves it from {@code expected} to {@code next}, with
   * {@code full} as its new full state, or (null) {@code deltaBytes} more in deltas.
   *
   * @return false if the row was not at {@code expected} (or there is none): nothing changed
   */
  private boolean advance(
      Connection tx, String task, long expected, long next, long now, byte[] full, long deltaBytes)
      throws SQLException {
    String set = full != null ? "size = ?, data = ?" : "size = size + ?";
    try (PreparedStatement ps =
        tx.prepareStatement(
            "UPDATE "
                + table
                + " SET generation = ?, updated_ms = ?, "
                + set
                + " WHERE kind = ? AND name = ? AND generation = ?")) {
      int i = 1;
      ps.setLong(i++, next);
      ps.setLong(i++, now);
      if (full != null) {
        ps.setLong(i++, full.length);
        ps.setBytes(i++, full);
      } else {
        ps.setLong(i++, deltaBytes);
      }
      ps.setInt(i++, TASK);
      ps.setString(i++, task);
      ps.setLong(i, expected);
      return ps.executeUpdate() == 1;
    }
  }

  private void deleteDeltas(Connection c, String task) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + deltas + " WHERE name = ?")) {
      ps.setString(1, task);
      ps.executeUpdate();
    }
  }

  /**
   * Runs a compare-and-swap write of {@code task} in one transaction and returns the new
   * generation. The write returns null when its compare found another generation; it is then rolled
   * back and this throws {@link Conflict} with the generation found. A write that failed with an
   * SQL error (a duplicate key when creating a task, a serialization failure) is rolled back too,
   * and is also a conflict when the generation is no longer the expected one.
   */
  private long write(Connection c, String task, long expected, Work<Long> work)
      throws SQLException {
    Long next;
    try {
      next = transaction(c, 0, work);
    } catch (UncertainCommit e) {
      throw e;
    } catch (SQLException e) {
      long actual;
      try {
        actual = generation(c, task);
      } catch (SQLException again) {
        e.addSuppressed(again);
        throw e;
      }
      if (actual != expected) {
        throw new Conflict(task, expected, actual);
      }
      throw e;
    }
    if (next == null) {
      throw new Conflict(task, expected, generation(c, task));
    }
    return next;
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

  /** Work inside a transaction; it returns null to have the transaction rolled back. */
  @FunctionalInterface
  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /**
   * Runs {@code work} in one transaction, committed if it returns a value, rolled back if it
   * returns null or throws, and restores the connection's auto-commit (and, for a snapshot, its
   * isolation and read-only flag). With {@code snapshotIsolation} 0 the transaction runs at the
   * connection's isolation; otherwise it is read-only at that level, at which every statement in it
   * sees the database as of one moment.
   *
   * @throws UncertainCommit if the commit itself failed: the write may or may not have happened
   */
  private static <T> T transaction(Connection c, int snapshotIsolation, Work<T> work)
      throws SQLException {
    boolean snapshot = snapshotIsolation != 0;
    boolean autoCommit = c.getAutoCommit();
    int isolation = c.getTransactionIsolation();
    boolean readOnly = c.isReadOnly();
    if (snapshot) {
      c.setReadOnly(true);
      c.setTransactionIsolation(snapshotIsolation);
    }
    c.setAutoCommit(false);
    boolean ended = false;
    try {
      T result = work.run(c);
      if (result == null) {
        c.rollback();
      } else {
        ended = true; // whatever commit does, a rollback now would not undo it
        try {
          c.commit();
        } catch (SQLException e) {
          throw new UncertainCommit(e);
        }
      }
      ended = true;
      return result;
    } finally {
      if (!ended) {
        try {
          c.rollback();
        } catch (SQLException e) {
          // the connection is broken: the database rolls back what it had of this transaction
        }
      }
      c.setAutoCommit(autoCommit);
      if (snapshot) {
        c.setTransactionIsolation(isolation);
        c.setReadOnly(readOnly);
      }
    }
  }

  /** A commit that failed, so the database may or may not have applied it. */
  private static final class UncertainCommit extends SQLException {
    private static final long serialVersionUID = 1L;

    UncertainCommit(SQLException cause) {
      super(
          "commit failed, the write may or may not have been saved: " + cause.getMessage(),
          cause.getSQLState(),
          cause.getErrorCode(),
          cause);
    }
  }

  @Override
  public List<TaskInfo> list() {
    String sql =
        "SELECT t.name, t.generation, t.size, t.updated_ms, (SELECT COUNT(*) FROM "
            + deltasTable()
            + " d WHERE d.name = t.name AND d.generation <= t.generation) FROM "
            + table
            + " t WHERE t.kind = ? ORDER BY t.name";
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
                  rs.getInt(5),
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
    try (Connection c = connections.get()) {
      Boolean deleted =
          transaction(
              c,
              0,
              tx -> {
                try (PreparedStatement ps = tx.prepareStatement(sql)) {
                  ps.setInt(1, TASK);
                  ps.setString(2, task);
                  if (expectedGeneration >= 0) {
                    ps.setLong(3, expectedGeneration);
                  }
                  if (ps.executeUpdate() != 1) {
                    return null;
                  }
                }
                deleteDeltas(tx, task);
                return true;
              });
      if (deleted != null) {
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
