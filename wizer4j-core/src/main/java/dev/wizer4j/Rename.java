package dev.wizer4j;

/** Export function export {@code src} as {@code dst} in the output. */
record Rename(String dst, String src) {}
