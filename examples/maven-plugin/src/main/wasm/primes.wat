;; The module the example pre-initializes at build time. Its init function finds the first 1,000
;; primes by trial division and stores them in memory; `nth` traps until that has happened, so a
;; module that answers `nth` without anyone calling init carries the snapshot.
(module
  (memory (export "memory") 1)
  (global $count (mut i32) (i32.const 0))

  (func $is_prime (param $n i32) (result i32)
    (local $d i32)
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (return (i32.const 0))))
    (local.set $d (i32.const 2))
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.mul (local.get $d) (local.get $d)) (local.get $n)))
        (if (i32.eqz (i32.rem_u (local.get $n) (local.get $d))) (then (return (i32.const 0))))
        (local.set $d (i32.add (local.get $d) (i32.const 1)))
        (br $next)))
    (i32.const 1))

  (func (export "wizer-initialize")
    (local $n i32)
    (local.set $n (i32.const 2))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (global.get $count) (i32.const 1000)))
        (if (call $is_prime (local.get $n))
          (then
            (i32.store (i32.mul (global.get $count) (i32.const 4)) (local.get $n))
            (global.set $count (i32.add (global.get $count) (i32.const 1)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next))))

  ;; How many primes the snapshot holds (0 before init).
  (func (export "count") (result i32) (global.get $count))

  ;; The i-th prime (0-based); traps if init has not run.
  (func (export "nth") (param $i i32) (result i32)
    (if (i32.ge_u (local.get $i) (global.get $count)) (then (unreachable)))
    (i32.load (i32.mul (local.get $i) (i32.const 4)))))
