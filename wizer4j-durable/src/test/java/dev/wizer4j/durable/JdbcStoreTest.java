package dev.wizer4j.durable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.wizer4j.durable.DurableException.Conflict;
import dev.wizer4j.durable.DurableException.StoreFailure;
import dev.wizer4j.durable.SnapshotStore.Stored;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.logging.Logger;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** What only the JDBC store has: its two tables, its transactions, the databases' isolation. */
class JdbcStoreTest {
  @TempDir Path tmp;

  static Stream<Stores.Kind> kinds() {
    return Stores.kinds().filter(k -> k != Stores.Kind.DIRECTORY);
  }

  private static String url(Stores.Opened s) {
    return s.spec().substring(0, s.spec().lastIndexOf('#'));
  }

  private static void execute(String url, String sql, Object... parameters) {
    try (Connection c = DriverManager.getConnection(url);
        PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < parameters.length; i++) {
        ps.setObject(i + 1, parameters[i]);
      }
      ps.execute();
    } catch (SQLException e) {
      throw new IllegalStateException(sql, e);
    }
  }

  private static Stored stateAtGeneration3(SnapshotStore store) {
    store.save("t", 0, new byte[] {1});
    store.saveDelta("t", 1, new byte[] {2});
    store.saveDelta("t", 2, new byte[] {3});
    return store.load("t").orElseThrow();
  }

  private static void assertState(Stored expected, Stored actual) {
    assertEquals(expected.generation(), actual.generation());
    assertArrayEquals(expected.bytes(), actual.bytes());
    assertEquals(expected.deltas().size(), actual.deltas().size());
    for (int i = 0; i < expected.deltas().size(); i++) {
      assertArrayEquals(expected.deltas().get(i), actual.deltas().get(i));
    }
  }

  /**
   * Another connection writes between a load's two reads (main row, then deltas): the load still
   * returns the moment of its first read. This is what REPEATABLE READ must give on each database;
   * with a weaker isolation the first case would return the full state of generation 1 as if it
   * were the whole of generation 3.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void aLoadSeesOneMomentWhileAnotherConnectionWritesBetweenItsReads(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp);
        SnapshotStore other = Stores.fromSpec(s.spec())) {
      JdbcStore store = (JdbcStore) s.store();
      Stored before = stateAtGeneration3(store);
      assertEquals(2, before.deltas().size());

      // A full save (compaction) deletes the deltas the load is about to read.
      assertState(before, store.load("t", () -> other.save("t", 3, new byte[] {4})).orElseThrow());
      Stored compacted = store.load("t").orElseThrow();
      assertEquals(4, compacted.generation());
      assertEquals(List.of(), compacted.deltas());

      // A new delta: not part of the moment the main row was read in.
      assertState(
          compacted, store.load("t", () -> other.saveDelta("t", 4, new byte[] {5})).orElseThrow());
      assertEquals(1, store.load("t").orElseThrow().deltas().size());

      // A delete of both tables' rows.
      Stored last = store.load("t").orElseThrow();
      assertState(last, store.load("t", () -> other.delete("t", 5)).orElseThrow());
      assertEquals(Optional.empty(), store.load("t"));
    }
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void deltaRowsThatAreNotTheGenerationsAfterTheFullStateFailTheLoad(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      JdbcStore store = (JdbcStore) s.store();
      stateAtGeneration3(store);
      store.saveDelta("t", 3, new byte[] {4});
      String deltas = store.deltasTable();
      execute(url(s), "DELETE FROM " + deltas + " WHERE name = 't' AND generation = 3");
      StoreFailure f = assertThrows(StoreFailure.class, () -> store.load("t"));
      assertEquals(
          "task `t`: the store is damaged: its newest generation is 4 but its 2 delta rows are"
              + " generations 2 to 4, not 3 to 4 after a full state",
          f.getMessage());

      // Every generation after a full state of generation 0, which no task has.
      String insert = "INSERT INTO " + deltas + " (name, generation, data) VALUES ('t', ?, ?)";
      execute(url(s), insert, 1L, new byte[] {0});
      execute(url(s), insert, 3L, new byte[] {0});
      f = assertThrows(StoreFailure.class, () -> store.load("t"));
      assertTrue(
          f.getMessage().contains("its 4 delta rows are generations 1 to 4"), f.getMessage());

      // A full save replaces them all, whatever they were.
      store.save("t", 4, new byte[] {5});
      assertEquals(List.of(), store.load("t").orElseThrow().deltas());
    }
  }

  /**
   * A database written before deltas existed has only the main table: opening it adds the deltas
   * table, and its tasks load (with no deltas) and take deltas.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void aTableWrittenBeforeDeltasKeepsWorking(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      String url = url(s);
      String table = "old_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
      String blob = kind == Stores.Kind.POSTGRES ? "BYTEA" : "BLOB";
      try {
        execute(
            url,
            "CREATE TABLE "
                + table
                + " (kind SMALLINT NOT NULL, name VARCHAR(128) NOT NULL,"
                + " generation BIGINT NOT NULL, updated_ms BIGINT NOT NULL, size BIGINT NOT NULL,"
                + " data "
                + blob
                + " NOT NULL, PRIMARY KEY (kind, name))");
        execute(
            url, "INSERT INTO " + table + " VALUES (1, 'old', 7, 0, 3, ?)", new byte[] {1, 2, 3});
        try (JdbcStore store = JdbcStore.open(url, table)) {
          Stored old = store.load("old").orElseThrow();
          assertEquals(7, old.generation());
          assertEquals(List.of(), old.deltas());
          assertArrayEquals(new byte[] {1, 2, 3}, old.bytes());
          assertEquals(8, store.saveDelta("old", 7, new byte[] {4, 5}));
          assertEquals(7, store.load("old").orElseThrow().fullGeneration());
          assertEquals(5, store.list().get(0).size());
        }
      } finally {
        execute(url, "DROP TABLE IF EXISTS " + table + "_deltas");
        execute(url, "DROP TABLE IF EXISTS " + table);
      }
    }
  }

  @Test
  void aTableNameLeavingNoRoomForItsDeltasTableIsRefused() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> JdbcStore.open("jdbc:h2:mem:unused", "t".repeat(57)));
    assertEquals(
        "table must be at most 56 characters (deltas go in table `"
            + "t".repeat(57)
            + "_deltas`, and database identifiers are at most 63), got 57",
        e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> JdbcStore.open("jdbc:h2:mem:u", "a-b"));
  }

  @ParameterizedTest
  @MethodSource("kinds")
  void aTableNameOf56CharactersHasADeltasTableOf63(Stores.Kind kind) {
    try (Stores.Opened s = Stores.open(kind, tmp)) {
      String url = url(s);
      String table = "t" + UUID.randomUUID().toString().replace("-", "") + "_".repeat(23);
      assertEquals(56, table.length());
      try (JdbcStore store = JdbcStore.open(url, table)) {
        assertEquals(63, store.deltasTable().length());
        assertEquals(3, stateAtGeneration3(store).generation());
        assertEquals(2, store.load("t").orElseThrow().deltas().size());
      } finally {
        execute(url, "DROP TABLE IF EXISTS " + table + "_deltas");
        execute(url, "DROP TABLE IF EXISTS " + table);
      }
    }
  }

  /**
   * A pooled connection goes back as it came: auto-commit on, its isolation and read-only flag
   * unchanged, after loads, saves, deltas, conflicts and deletes.
   */
  @ParameterizedTest
  @MethodSource("kinds")
  void aPooledConnectionGoesBackWithItsSettings(Stores.Kind kind) throws SQLException {
    try (Stores.Opened s = Stores.open(kind, tmp);
        Connection real = DriverManager.getConnection(url(s))) {
      real.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
      JdbcStore store = new JdbcStore(oneConnection(real), s.spec().substring(url(s).length() + 1));
      Runnable settingsKept =
          () -> {
            try {
              assertTrue(real.getAutoCommit());
              assertFalse(real.isReadOnly());
              assertEquals(Connection.TRANSACTION_READ_COMMITTED, real.getTransactionIsolation());
            } catch (SQLException e) {
              throw new IllegalStateException(e);
            }
          };
      stateAtGeneration3(store);
      settingsKept.run();
      assertThrows(Conflict.class, () -> store.saveDelta("t", 1, new byte[] {9}));
      settingsKept.run();
      assertThrows(Conflict.class, () -> store.save("t", 0, new byte[] {9}));
      settingsKept.run();
      assertThrows(Conflict.class, () -> store.delete("t", 1));
      settingsKept.run();
      store.save("t", 3, new byte[] {4});
      settingsKept.run();
      assertTrue(store.delete("t", 4));
      settingsKept.run();
      assertEquals(Optional.empty(), store.load("t"));
      settingsKept.run();
      // And what it wrote is committed: a connection of its own sees it.
      store.save("u", 0, new byte[] {1});
      store.saveDelta("u", 1, new byte[] {2});
      try (SnapshotStore fresh = Stores.fromSpec(s.spec())) {
        assertEquals(2, fresh.load("u").orElseThrow().generation());
      }
    }
  }

  /** A data source that lends {@code real} to every caller and never closes it, as a pool does. */
  private static DataSource oneConnection(Connection real) {
    Connection lent =
        (Connection)
            Proxy.newProxyInstance(
                Connection.class.getClassLoader(),
                new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("close")) {
                    return null;
                  }
                  try {
                    return method.invoke(real, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    return new DataSource() {
      @Override
      public Connection getConnection() {
        return lent;
      }

      @Override
      public Connection getConnection(String user, String password) {
        return lent;
      }

      @Override
      public PrintWriter getLogWriter() {
        return null;
      }

      @Override
      public void setLogWriter(PrintWriter out) {}

      @Override
      public void setLoginTimeout(int seconds) {}

      @Override
      public int getLoginTimeout() {
        return 0;
      }

      @Override
      public Logger getParentLogger() {
        return Logger.getGlobal();
      }

      @Override
      public <T> T unwrap(Class<T> type) throws SQLException {
        throw new SQLException("not a wrapper");
      }

      @Override
      public boolean isWrapperFor(Class<?> type) {
        return false;
      }
    };
  }
}
