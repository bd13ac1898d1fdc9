;; A module whose initialization does real work: it fills a table of squares in memory and
;; counts its calls in a global. After `bin/wizer4j examples/hello.wasm -o hello.wasm`, the
;; output starts with the table already built and `wizer-initialize` gone.
(module
  (memory (export "memory") 1)
  (global $initialized (mut i32) (i32.const 0))
  (global $sum (mut i64) (i64.const 0))

  (func $init (export "wizer-initialize")
    (local $i i32)
    (loop $fill
      ;; squares[i] = i * i, for i in 0..1024
      (i32.store (i32.shl (local.get $i) (i32.const 2))
                 (i32.mul (local.get $i) (local.get $i)))
      (global.set $sum (i64.add (global.get $sum)
                                (i64.extend_i32_u (i32.mul (local.get $i) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 1024))))
    (global.set $initialized (i32.const 1)))

  (func (export "initialized") (result i32) (global.get $initialized))
  (func (export "square") (param $i i32) (result i32)
    (i32.load (i32.shl (local.get $i) (i32.const 2))))
  (func (export "sum") (result i64) (global.get $sum)))
