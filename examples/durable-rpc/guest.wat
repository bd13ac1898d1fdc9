;; The guest of the durable-execution example: a task that needs N answers from a remote
;; service and never waits for one inside a call.
;;
;; The task computes   result = sum over k in 0..N-1 of prime(k) * f(k)
;; where prime(k) is the k-th prime (a table built once, by `wizer-initialize`) and f(k) is
;; answered by the host (the "remote" call). The guest asks for one f(k) at a time: it returns
;; to the host with status 0 ("waiting") and names the request it is waiting for in
;; `pending_request`; the host answers later, possibly from another process, with
;; `on_response`. All of the task's state lives in linear memory and in mutable globals, so a
;; snapshot of the instance between two calls is the whole task.
;;
;; Exports:
;;   wizer-initialize                     builds the prime table (run once, by pre-initialization)
;;   start(task_id i32, n i32) -> i32     begins a task; 0 = waiting, -1 = refused
;;   on_response(req i32, value i64) -> i32
;;                                        0 = waiting for more, 1 = done, -1 = refused: no task
;;                                        waits, or `req` is not the pending request (a duplicate
;;                                        or stale answer); a refused call changes nothing
;;   pending_request() -> i32             the request id (= k, the argument of f) or -1
;;   result() -> i64                      the result once done (the partial sum before)
;;   task_id() -> i32                     the id given to `start`
;;   durable_status() -> i64              the request waited for, -1 once done, -2 before `start`
;;   durable_result() -> i64              the result (wizer4j-durable's guest contract)
;;
;; Build: ./build.sh (wat2wasm guest.wat -o guest.wasm)
(module
  (memory (export "memory") 1)

  ;; Layout of linear memory.
  ;;   1024 ..  5024   prime table: MAX_N i32 values, written by `wizer-initialize`
  ;;   8192 ..  8216   task record:
  ;;                     +0  magic "DRPC" (tells a task record from zeroed memory)
  ;;                     +4  task id      +8  n      +12  answers received
  ;;                     +16 partial sum (i64)
  (global $PRIMES i32 (i32.const 1024))
  (global $TASK i32 (i32.const 8192))
  (global $MAX_N i32 (i32.const 1000))
  (global $MAGIC i32 (i32.const 0x43505244)) ;; "DRPC" little-endian

  ;; 0 = no task, 1 = waiting for `$pending`, 2 = done.
  (global $phase (mut i32) (i32.const 0))
  (global $pending (mut i32) (i32.const -1))

  (func $prime (param $k i32) (result i32)
    (i32.load (i32.add (global.get $PRIMES) (i32.shl (local.get $k) (i32.const 2)))))

  ;; Fills the prime table by trial division against the primes found so far. This is the
  ;; work that pre-initialization does once, so that no process that resumes a task repeats it.
  (func $init (export "wizer-initialize")
    (local $count i32) (local $c i32) (local $i i32) (local $p i32) (local $isPrime i32)
    (local.set $c (i32.const 2))
    (block $full
      (loop $candidates
        (local.set $isPrime (i32.const 1))
        (local.set $i (i32.const 0))
        (block $tested
          (loop $divisors
            (br_if $tested (i32.ge_u (local.get $i) (local.get $count)))
            (local.set $p (call $prime (local.get $i)))
            (br_if $tested (i32.gt_u (i32.mul (local.get $p) (local.get $p)) (local.get $c)))
            (if (i32.eqz (i32.rem_u (local.get $c) (local.get $p)))
              (then (local.set $isPrime (i32.const 0)) (br $tested)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $divisors)))
        (if (local.get $isPrime)
          (then
            (i32.store
              (i32.add (global.get $PRIMES) (i32.shl (local.get $count) (i32.const 2)))
              (local.get $c))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))
            (br_if $full (i32.ge_u (local.get $count) (global.get $MAX_N)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $candidates)))
    (i32.store (global.get $TASK) (global.get $MAGIC)))

  (func (export "start") (param $task i32) (param $n i32) (result i32)
    (if (i32.ne (global.get $phase) (i32.const 0)) (then (return (i32.const -1))))
    (if (i32.or (i32.lt_s (local.get $n) (i32.const 1))
                (i32.gt_s (local.get $n) (global.get $MAX_N)))
      (then (return (i32.const -1))))
    (i32.store offset=4 (global.get $TASK) (local.get $task))
    (i32.store offset=8 (global.get $TASK) (local.get $n))
    (i32.store offset=12 (global.get $TASK) (i32.const 0))
    (i64.store offset=16 (global.get $TASK) (i64.const 0))
    (global.set $phase (i32.const 1))
    (global.set $pending (i32.const 0))
    (i32.const 0))

  (func (export "on_response") (param $req i32) (param $value i64) (result i32)
    (local $k i32)
    (if (i32.ne (global.get $phase) (i32.const 1)) (then (return (i32.const -1))))
    (if (i32.ne (local.get $req) (global.get $pending)) (then (return (i32.const -1))))
    (local.set $k (i32.load offset=12 (global.get $TASK)))
    (i64.store offset=16 (global.get $TASK)
      (i64.add (i64.load offset=16 (global.get $TASK))
               (i64.mul (i64.extend_i32_u (call $prime (local.get $k))) (local.get $value))))
    (local.set $k (i32.add (local.get $k) (i32.const 1)))
    (i32.store offset=12 (global.get $TASK) (local.get $k))
    (if (i32.eq (local.get $k) (i32.load offset=8 (global.get $TASK)))
      (then
        (global.set $phase (i32.const 2))
        (global.set $pending (i32.const -1))
        (return (i32.const 1))))
    (global.set $pending (local.get $k))
    (i32.const 0))

  ;; The guest contract of wizer4j-durable's DurableHost: where the task stands (k >= 0: waiting
  ;; for request k; -1: done; -2: no task begun) and, once done, the result.
  (func (export "durable_status") (result i64)
    (if (i32.eq (global.get $phase) (i32.const 2)) (then (return (i64.const -1))))
    (if (i32.eq (global.get $phase) (i32.const 1))
      (then (return (i64.extend_i32_s (global.get $pending)))))
    (i64.const -2))
  (func (export "durable_result") (result i64) (i64.load offset=16 (global.get $TASK)))

  (func (export "pending_request") (result i32) (global.get $pending))
  (func (export "result") (result i64) (i64.load offset=16 (global.get $TASK)))
  (func (export "task_id") (result i32) (i32.load offset=4 (global.get $TASK))))
