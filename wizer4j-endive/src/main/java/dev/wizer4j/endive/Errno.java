package dev.wizer4j.endive;

/**
 * The WASI preview1 errno values the sandbox answers with (Endive's own enum is not public). Values
 * from the {@code errno} enum of {@code wasi_snapshot_preview1.witx}.
 */
final class Errno {
  static final int SUCCESS = 0;
  static final int ACCES = 2;
  static final int BADF = 8;
  static final int EXIST = 20;
  static final int INVAL = 28;
  static final int IO = 29;
  static final int ISDIR = 31;
  static final int LOOP = 32;
  static final int NAMETOOLONG = 37;
  static final int NOENT = 44;
  static final int NOMEM = 48;
  static final int NOTDIR = 54;
  static final int NOTEMPTY = 55;
  static final int NOTSUP = 58;

  /** What wasmtime answers for any path that would lead outside its directory. */
  static final int PERM = 63;

  static final int XDEV = 75;

  private Errno() {}
}
