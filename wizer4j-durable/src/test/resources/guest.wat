;; The guest of wizer4j-durable's tests and of the durable-step benchmark. It follows the guest
;; contract of DurableHost: it imports nothing, every call returns, `durable_status` says where it
;; stands (k >= 0: waiting for request k; -1: done; -2: no task yet) and `durable_result` gives
;; the result once done.
;;
;; A task needs N answers f(0), f(1), ... from the host and computes
;;   result = sum over k in 0..N-1 of f(k) * square(k mod 256)
;; where the table of squares (k*k + 1) is built once, by `wizer-initialize`. A task also carries
;; FILL bytes of "ballast" (pseudo-random, never zero) from 64 KiB on, so that its state can be
;; made as large as a test or benchmark wants; every answer overwrites 8 bytes of it.
;;
;; Exports:
;;   start(n i32, fill i32) -> i32        begin a task: 0 = waiting, -1 = refused
;;   on_response(req i64, value i64) -> i32
;;                                        0 = waiting for more, 1 = done, -1 = refused (not the
;;                                        pending request; nothing changes)
;;   durable_status() -> i64, durable_result() -> i64   the contract
;;   thin(keep i32, period i32) -> i32    zero all but KEEP bytes of each PERIOD bytes of ballast
;;   ballast_hash() -> i64                a hash of the ballast, to compare two runs
;;
;; Build: ./build.sh (wat2wasm guest.wat -o guest.wasm)
(module
  (memory (export "memory") 1)

  ;; Layout: 1024..2048 table of 256 i32 squares; 8192 task record: +0 n, +4 answers received,
  ;; +8 sum (i64), +16 fill; 65536.. ballast.
  (global $TABLE i32 (i32.const 1024))
  (global $TASK i32 (i32.const 8192))
  (global $BALLAST i32 (i32.const 65536))

  ;; 0 = no task, 1 = waiting for $pending, 2 = done.
  (global $phase (mut i32) (i32.const 0))
  (global $pending (mut i64) (i64.const -1))

  (func $square (param $k i32) (result i64)
    (i64.extend_i32_u
      (i32.load (i32.add (global.get $TABLE) (i32.shl (i32.and (local.get $k) (i32.const 255)) (i32.const 2))))))

  (func (export "wizer-initialize")
    (local $i i32)
    (loop $fill
      (i32.store
        (i32.add (global.get $TABLE) (i32.shl (local.get $i) (i32.const 2)))
        (i32.add (i32.mul (local.get $i) (local.get $i)) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 256)))))

  (func (export "start") (param $n i32) (param $fill i32) (result i32)
    (local $pages i32) (local $i i32) (local $x i64)
    (if (i32.ne (global.get $phase) (i32.const 0)) (then (return (i32.const -1))))
    (if (i32.or (i32.lt_s (local.get $n) (i32.const 1)) (i32.gt_s (local.get $n) (i32.const 1000000)))
      (then (return (i32.const -1))))
    ;; fill: a multiple of 8, at most 64 MiB
    (if (i32.or (i32.gt_u (local.get $fill) (i32.const 67108864))
                (i32.ne (i32.and (local.get $fill) (i32.const 7)) (i32.const 0)))
      (then (return (i32.const -1))))
    (local.set $pages
      (i32.add (i32.const 1) (i32.shr_u (i32.add (local.get $fill) (i32.const 65535)) (i32.const 16))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then (return (i32.const -1))))))
    (local.set $x (i64.const 0x2545f4914f6cdd1d))
    (block $done
      (loop $ballast
        (br_if $done (i32.ge_u (local.get $i) (local.get $fill)))
        (local.set $x
          (i64.add (i64.mul (local.get $x) (i64.const 6364136223846793005))
                   (i64.const 1442695040888963407)))
        (i64.store (i32.add (global.get $BALLAST) (local.get $i))
          (i64.or (local.get $x) (i64.const 0x0101010101010101)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $ballast)))
    (i32.store (global.get $TASK) (local.get $n))
    (i32.store offset=4 (global.get $TASK) (i32.const 0))
    (i64.store offset=8 (global.get $TASK) (i64.const 0))
    (i32.store offset=16 (global.get $TASK) (local.get $fill))
    (global.set $phase (i32.const 1))
    (global.set $pending (i64.const 0))
    (i32.const 0))

  (func (export "on_response") (param $req i64) (param $value i64) (result i32)
    (local $k i32) (local $fill i32)
    (if (i32.ne (global.get $phase) (i32.const 1)) (then (return (i32.const -1))))
    (if (i64.ne (local.get $req) (global.get $pending)) (then (return (i32.const -1))))
    (local.set $k (i32.load offset=4 (global.get $TASK)))
    (i64.store offset=8 (global.get $TASK)
      (i64.add (i64.load offset=8 (global.get $TASK))
               (i64.mul (local.get $value) (call $square (local.get $k)))))
    (local.set $fill (i32.load offset=16 (global.get $TASK)))
    (if (i32.ge_u (local.get $fill) (i32.const 8))
      (then
        (i64.store
          (i32.add (global.get $BALLAST)
                   (i32.rem_u (i32.shl (local.get $k) (i32.const 3)) (local.get $fill)))
          (i64.or (local.get $value) (i64.const 0x0101010101010101)))))
    (local.set $k (i32.add (local.get $k) (i32.const 1)))
    (i32.store offset=4 (global.get $TASK) (local.get $k))
    (if (i32.eq (local.get $k) (i32.load (global.get $TASK)))
      (then
        (global.set $phase (i32.const 2))
        (global.set $pending (i64.const -1))
        (return (i32.const 1))))
    (global.set $pending (i64.extend_i32_u (local.get $k)))
    (i32.const 0))

  ;; Zeroes all but the first KEEP bytes of every PERIOD-byte block of the ballast, so that the
  ;; non-zero memory comes in short runs, as objects on a heap do. 0 = done, -1 = refused.
  (func (export "thin") (param $keep i32) (param $period i32) (result i32)
    (local $i i32) (local $fill i32)
    (local.set $fill (i32.load offset=16 (global.get $TASK)))
    (if (i32.or (i32.eqz (local.get $period))
                (i32.or (i32.gt_u (local.get $keep) (local.get $period))
                        (i32.ne (i32.rem_u (local.get $fill) (local.get $period)) (i32.const 0))))
      (then (return (i32.const -1))))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $fill)))
        (memory.fill
          (i32.add (global.get $BALLAST) (i32.add (local.get $i) (local.get $keep)))
          (i32.const 0)
          (i32.sub (local.get $period) (local.get $keep)))
        (local.set $i (i32.add (local.get $i) (local.get $period)))
        (br $each)))
    (i32.const 0))

  (func (export "durable_status") (result i64)
    (if (i32.eq (global.get $phase) (i32.const 2)) (then (return (i64.const -1))))
    (if (i32.eq (global.get $phase) (i32.const 1)) (then (return (global.get $pending))))
    (i64.const -2))

  (func (export "durable_result") (result i64) (i64.load offset=8 (global.get $TASK)))

  (func (export "ballast_hash") (result i64)
    (local $i i32) (local $h i64) (local $fill i32)
    (local.set $fill (i32.load offset=16 (global.get $TASK)))
    (local.set $h (i64.const 1469598103934665603))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $fill)))
        (local.set $h
          (i64.mul (i64.xor (local.get $h) (i64.load (i32.add (global.get $BALLAST) (local.get $i))))
                   (i64.const 1099511628211)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $each)))
    (local.get $h)))
