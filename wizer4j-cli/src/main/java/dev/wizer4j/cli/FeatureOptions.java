package dev.wizer4j.cli;

import picocli.CommandLine.Option;

/**
 * Wizer's feature switches. wizer4j validates with every feature Endive supports enabled, so these
 * are accepted for compatibility and do not change the result.
 */
final class FeatureOptions {
  @Option(names = "--wasm-multi-memory", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmMultiMemory;

  @Option(names = "--wasm-multi-value", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmMultiValue;

  @Option(names = "--wasm-bulk-memory", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmBulkMemory;

  @Option(names = "--wasm-simd", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmSimd;

  @Option(names = "--wasm-relaxed-simd", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmRelaxedSimd;

  @Option(names = "--wasm-reference-types", arity = "0..1", fallbackValue = "true", hidden = true)
  Boolean wasmReferenceTypes;

  @Option(
      names = "--relaxed-simd-deterministic",
      arity = "0..1",
      fallbackValue = "true",
      hidden = true)
  Boolean relaxedSimdDeterministic;
}
