//! Unit tests of the queue engine with plain Rust items.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as StdOrdering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

type Queue = AtomicQueue<u64>;

/// A sleep function that just sleeps (what the binding does, minus the interpreter).
fn plain(s: &Sleep<'_>) -> Result<(), ()> {
    s.wait(None);
    Ok(())
}

fn get(q: &Queue) -> Result<u64, GetError> {
    q.get(None, plain).unwrap()
}

fn put(q: &Queue, x: u64) -> Result<(), PutError<u64>> {
    q.put(x, None, plain).unwrap()
}

#[test]
fn items_come_out_in_the_order_they_went_in() {
    let q = Queue::new(0);
    for i in 0..100 {
        q.put_nowait(i).unwrap();
    }
    assert_eq!(q.qsize(), 100);
    assert_eq!((0..100).map(|_| q.get_nowait().unwrap()).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
    assert_eq!(q.get_nowait(), Err(GetError::Empty));
    assert!(q.is_empty());
}

#[test]
fn bounded_queue_refuses_the_item_past_maxsize_and_gives_it_back() {
    let q = Queue::new(3);
    for i in 0..3 {
        q.put_nowait(i).unwrap();
    }
    assert!(q.is_full());
    assert_eq!(q.put_nowait(7), Err(PutError::Full(7)));
    assert_eq!(q.get_nowait(), Ok(0));
    assert!(!q.is_full());
    q.put_nowait(7).unwrap();
    assert_eq!(q.qsize(), 3);
}

#[test]
fn blocking_get_with_deadline_times_out_empty_after_the_deadline() {
    let q = Queue::new(0);
    let start = Instant::now();
    let got = q.get(Some(start + Duration::from_millis(30)), plain).unwrap();
    assert_eq!(got, Err(GetError::Empty));
    assert!(start.elapsed() >= Duration::from_millis(30));
}

#[test]
fn blocking_put_with_deadline_times_out_full_and_gives_the_item_back() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    let got = q.put(2, Some(Instant::now() + Duration::from_millis(20)), plain).unwrap();
    assert_eq!(got, Err(PutError::Full(2)));
}

#[test]
fn sleeping_getter_is_woken_by_a_put() {
    let q = Arc::new(Queue::new(0));
    let getter = {
        let q = q.clone();
        thread::spawn(move || get(&q))
    };
    while q.not_empty.sleepers() == 0 {
        thread::yield_now();
    }
    q.put_nowait(42).unwrap();
    assert_eq!(getter.join().unwrap(), Ok(42));
}

#[test]
fn sleeping_putter_is_woken_by_a_get() {
    let q = Arc::new(Queue::new(1));
    q.put_nowait(1).unwrap();
    let putter = {
        let q = q.clone();
        thread::spawn(move || put(&q, 2))
    };
    while q.not_full.sleepers() == 0 {
        thread::yield_now();
    }
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(putter.join().unwrap(), Ok(()));
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn interrupted_getter_passes_its_wake_up_to_another_getter() {
    // Two getters sleep; the first one to wake is "interrupted" and leaves without an item.
    // The item must still reach the other one.
    let q = Arc::new(Queue::new(0));
    let interrupted = Arc::new(AtomicBool::new(false));
    let spawn = |q: Arc<Queue>, flag: Arc<AtomicBool>| {
        thread::spawn(move || {
            q.get(None, |s| {
                s.wait(None);
                // The first sleeper to return acts as if KeyboardInterrupt arrived.
                if !flag.swap(true, StdOrdering::SeqCst) {
                    return Err(());
                }
                Ok(())
            })
        })
    };
    let a = spawn(q.clone(), interrupted.clone());
    let b = spawn(q.clone(), interrupted.clone());
    while q.not_empty.sleepers() < 2 {
        thread::yield_now();
    }
    q.put_nowait(5).unwrap();
    let results = [a.join().unwrap(), b.join().unwrap()];
    assert!(results.contains(&Err(())), "{results:?}");
    assert!(results.contains(&Ok(Ok(5))), "{results:?}");
}

#[test]
fn task_done_past_the_number_of_puts_is_refused() {
    let q = Queue::new(0);
    assert_eq!(q.task_done(), Err(TooManyTaskDone));
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    assert_eq!(q.unfinished_tasks(), 2);
    q.task_done().unwrap();
    q.task_done().unwrap();
    assert_eq!(q.task_done(), Err(TooManyTaskDone));
    assert_eq!(q.unfinished_tasks(), 0);
}

#[test]
fn join_returns_once_every_task_is_done() {
    let q = Arc::new(Queue::new(0));
    for i in 0..10 {
        q.put_nowait(i).unwrap();
    }
    let done = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (q, done) = (q.clone(), done.clone());
        thread::spawn(move || {
            for _ in 0..10 {
                get(&q).unwrap();
                thread::sleep(Duration::from_millis(1));
                done.fetch_add(1, StdOrdering::SeqCst);
                q.task_done().unwrap();
            }
        })
    };
    q.join(plain).unwrap();
    assert_eq!(done.load(StdOrdering::SeqCst), 10);
    worker.join().unwrap();
}

#[test]
fn shutdown_refuses_puts_and_lets_gets_drain_then_raise() {
    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    q.shutdown(false, drop);
    assert!(q.is_shutdown());
    assert_eq!(q.put_nowait(2), Err(PutError::ShutDown(2)));
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(q.get_nowait(), Err(GetError::ShutDown));
    assert_eq!(get(&q), Err(GetError::ShutDown));
}

#[test]
fn immediate_shutdown_discards_the_items_and_finishes_their_tasks() {
    let q = Queue::new(2);
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    let mut discarded = vec![];
    q.shutdown(true, |x| discarded.push(x));
    assert_eq!(discarded, [1, 2]);
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(q.get_nowait(), Err(GetError::ShutDown));
    q.join(plain).unwrap();
}

#[test]
fn shutdown_wakes_sleeping_getters_and_putters_with_shutdown() {
    let q = Arc::new(Queue::new(1));
    let empty = Arc::new(Queue::new(0));
    q.put_nowait(0).unwrap();
    let putters: Vec<_> = (0..2)
        .map(|i| {
            let q = q.clone();
            thread::spawn(move || put(&q, i))
        })
        .collect();
    let getters: Vec<_> = (0..2)
        .map(|_| {
            let e = empty.clone();
            thread::spawn(move || get(&e))
        })
        .collect();
    while q.not_full.sleepers() < 2 || empty.not_empty.sleepers() < 2 {
        thread::yield_now();
    }
    q.shutdown(false, drop);
    empty.shutdown(false, drop);
    for p in putters {
        assert!(matches!(p.join().unwrap(), Err(PutError::ShutDown(_))));
    }
    for g in getters {
        assert_eq!(g.join().unwrap(), Err(GetError::ShutDown));
    }
}

#[test]
fn rotate_shows_every_item_once_and_keeps_the_order() {
    let q = Queue::new(5);
    for i in 0..5 {
        q.put_nowait(i).unwrap();
    }
    let mut seen = vec![];
    q.rotate(|x| seen.push(*x));
    assert_eq!(seen, [0, 1, 2, 3, 4]);
    assert!(q.is_full());
    assert_eq!((0..5).map(|_| q.get_nowait().unwrap()).collect::<Vec<_>>(), seen);
}

#[test]
fn dropping_a_queue_drops_its_items() {
    let item = Arc::new(());
    let q: AtomicQueue<Arc<()>> = AtomicQueue::new(0);
    for _ in 0..100 {
        q.put_nowait(item.clone()).unwrap();
    }
    assert_eq!(Arc::strong_count(&item), 101);
    drop(q);
    assert_eq!(Arc::strong_count(&item), 1);
}

/// N producers put tagged sequence numbers; M consumers get with random blocking and timeouts.
/// Every item comes out exactly once, and each producer's items in the order it put them.
fn mpmc(producers: u64, consumers: usize, maxsize: usize, per_producer: u64) {
    let q = Arc::new(Queue::new(maxsize));
    let barrier = Arc::new(Barrier::new(producers as usize + consumers));
    let total = producers * per_producer;
    let taken = Arc::new(AtomicUsize::new(0));
    let prod: Vec<_> = (0..producers)
        .map(|p| {
            let (q, barrier) = (q.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for i in 0..per_producer {
                    let item = p << 32 | i;
                    if i % 3 == 0 {
                        let mut item = item;
                        loop {
                            match q.put(item, Some(Instant::now() + Duration::from_micros(50)), plain).unwrap() {
                                Ok(()) => break,
                                Err(PutError::Full(back)) => item = back,
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                    } else {
                        put(&q, item).unwrap();
                    }
                }
            })
        })
        .collect();
    let cons: Vec<_> = (0..consumers)
        .map(|c| {
            let (q, barrier, taken) = (q.clone(), barrier.clone(), taken.clone());
            thread::spawn(move || {
                barrier.wait();
                let mut got = vec![];
                let mut n = c as u64;
                while (taken.load(StdOrdering::SeqCst) as u64) < total {
                    n = n.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let r = match n >> 62 {
                        0 => q.get_nowait(),
                        1 => q.get(Some(Instant::now() + Duration::from_micros(100)), plain).unwrap(),
                        _ => q.get(Some(Instant::now() + Duration::from_millis(5)), plain).unwrap(),
                    };
                    if let Ok(x) = r {
                        taken.fetch_add(1, StdOrdering::SeqCst);
                        got.push(x);
                    }
                }
                got
            })
        })
        .collect();
    for p in prod {
        p.join().unwrap();
    }
    let mut last: HashMap<u64, u64> = HashMap::new();
    let mut count = 0;
    for c in cons {
        let got = c.join().unwrap();
        let mut mine: HashMap<u64, u64> = HashMap::new();
        for x in got {
            let (p, i) = (x >> 32, x & 0xFFFF_FFFF);
            if let Some(prev) = mine.insert(p, i) {
                assert!(prev < i, "consumer saw producer {p}'s {i} after {prev}");
            }
            *last.entry(p).or_default() += 1;
            count += 1;
        }
    }
    assert_eq!(count, total);
    assert!(last.values().all(|&n| n == per_producer));
    assert_eq!(q.qsize(), 0);
}

#[test]
fn mpmc_unbounded_moves_every_item_once_in_per_producer_order() {
    mpmc(4, 4, 0, 20_000);
}

#[test]
fn mpmc_bounded_moves_every_item_once_in_per_producer_order() {
    mpmc(4, 4, 8, 20_000);
}

#[test]
fn mpmc_bound_of_one_moves_every_item_once() {
    mpmc(3, 2, 1, 5_000);
}

#[test]
fn bounded_queue_never_holds_more_than_maxsize() {
    let q = Arc::new(Queue::new(4));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (q, stop) = (q.clone(), stop.clone());
            thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(StdOrdering::SeqCst) {
                    if t % 2 == 0 {
                        let _ = q.put_nowait(i);
                    } else {
                        let _ = q.get_nowait();
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_millis(200);
    while Instant::now() < deadline {
        assert!(q.qsize() <= 4);
    }
    stop.store(true, StdOrdering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn puts_racing_shutdown_are_delivered_or_refused_never_stranded() {
    // Producers put while another thread shuts the queue down; consumers get until ShutDown.
    // Every put that succeeded reaches a consumer.
    for round in 0..20 {
        let q = Arc::new(Queue::new(if round % 2 == 0 { 0 } else { 4 }));
        let barrier = Arc::new(Barrier::new(6));
        let prod: Vec<_> = (0..3u64)
            .map(|p| {
                let (q, barrier) = (q.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let mut ok = 0;
                    for i in 0.. {
                        match put(&q, p << 32 | i) {
                            Ok(()) => ok += 1,
                            Err(PutError::ShutDown(_)) => return ok,
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                    unreachable!()
                })
            })
            .collect();
        let cons: Vec<_> = (0..2)
            .map(|_| {
                let (q, barrier) = (q.clone(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let mut got = 0;
                    while get(&q).is_ok() {
                        got += 1;
                    }
                    got
                })
            })
            .collect();
        barrier.wait();
        thread::sleep(Duration::from_millis(2));
        q.shutdown(false, drop);
        let put_ok: u64 = prod.into_iter().map(|h| h.join().unwrap()).sum();
        let got: u64 = cons.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(put_ok, got, "round {round}");
        assert_eq!(q.qsize(), 0);
    }
}
