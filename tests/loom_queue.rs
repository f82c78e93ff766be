//! Loom models of the queue's wake-up protocol (src/engine/queue): every interleaving (up to the
//! preemption bound) of a sleeper and the thread that should wake it, with the futex modelled
//! as the kernel implements it (see `engine::queue::futex`). A lost wake-up shows as a
//! deadlock, which loom reports.
//!
//! The items live in a model store, a loom `Mutex<VecDeque>` (a linearizable FIFO, which is all
//! the engine asks of crossbeam's SegQueue; SegQueue's own atomics are not loom's). What is
//! checked is the engine's own protocol: admission and shutdown in the state word, the free
//! slot count, the event counts and the futex.
//!
//! Run with `scripts/loom-test` (`RUSTFLAGS="--cfg loom --cfg crossbeam_loom"`).
#![cfg(loom)]

use std::collections::VecDeque;

use loom::sync::{Arc, Mutex};
use loom::thread;
use lockless::engine::queue::{AtomicQueue, GetError, PutError, Sleep, Store};

/// A linearizable FIFO for the models.
struct ModelStore(Mutex<VecDeque<u32>>);

impl Store<u32> for ModelStore {
    fn new() -> Self {
        ModelStore(Mutex::new(VecDeque::new()))
    }
    fn push(&self, item: u32) {
        self.0.lock().unwrap().push_back(item);
    }
    fn pop(&self) -> Option<u32> {
        self.0.lock().unwrap().pop_front()
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

type Queue = AtomicQueue<u32, ModelStore>;

/// A queue whose blocking calls sleep at their first miss. Spinning is no part of the wake-up
/// protocol, and under loom each spin is a yield that hands the turn to the other threads: with
/// the default tries, a getter could reach its sleep only after the puts it waits for, and the
/// models would never see it sleeping first.
fn queue(maxsize: usize) -> Queue {
    Queue::with_spin_tries(maxsize, 0)
}

/// Sleeps on the futex until woken (no deadline, no interruption).
fn sleep(s: &Sleep<'_>) -> Result<(), ()> {
    s.wait(None);
    Ok(())
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

#[test]
fn a_getter_that_goes_to_sleep_as_an_item_arrives_is_woken() {
    model(|| {
        let q = Arc::new(queue(0));
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get(None, sleep).unwrap())
        };
        q.put_nowait(7).unwrap();
        assert_eq!(getter.join().unwrap(), Ok(7));
    });
}

#[test]
fn two_sleeping_getters_and_two_puts_each_getter_gets_one() {
    model(|| {
        let q = Arc::new(queue(0));
        let getters: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.get(None, sleep).unwrap().unwrap())
            })
            .collect();
        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        let mut got: Vec<u32> = getters.into_iter().map(|g| g.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn a_getter_whose_item_another_takes_sleeps_again_and_the_next_put_wakes_it() {
    // The getter may be registered (or asleep) when the first put comes and lose that item to
    // the thread that does not sleep; the second put must then still reach it, asleep again.
    model(|| {
        let q = Arc::new(queue(0));
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get(None, sleep).unwrap().unwrap())
        };
        let taker = {
            let q = q.clone();
            thread::spawn(move || q.get_nowait().ok())
        };
        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        let mut got = vec![getter.join().unwrap()];
        got.extend(taker.join().unwrap());
        got.extend(q.get_nowait().ok());
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn a_putter_sleeping_on_a_full_queue_is_woken_by_a_get() {
    model(|| {
        let q = Arc::new(queue(1));
        q.put_nowait(1).unwrap();
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(2, None, sleep).unwrap())
        };
        assert_eq!(q.get(None, sleep).unwrap(), Ok(1));
        assert_eq!(putter.join().unwrap(), Ok(()));
        assert_eq!(q.get_nowait(), Ok(2));
    });
}

#[test]
fn shutdown_wakes_a_sleeping_getter_with_shutdown() {
    model(|| {
        let q = Arc::new(queue(0));
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get(None, sleep).unwrap())
        };
        q.shutdown(false, drop);
        assert_eq!(getter.join().unwrap(), Err(GetError::ShutDown));
    });
}

#[test]
fn a_put_racing_shutdown_is_refused_or_reaches_a_getter_that_drains() {
    model(|| {
        let q = Arc::new(queue(0));
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put_nowait(5))
        };
        q.shutdown(false, drop);
        // After shutdown returned, a get either finds the item or ShutDown for good.
        let got = q.get_nowait();
        let put = putter.join().unwrap();
        match got {
            Ok(5) => assert_eq!(put, Ok(())),
            Err(GetError::ShutDown) => assert_eq!(put, Err(PutError::ShutDown(5))),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.get_nowait(), Err(GetError::ShutDown));
    });
}

#[test]
fn two_shutdowns_racing_a_put_both_return_and_the_put_is_refused_or_delivered() {
    // The second shutdown to set the flag waits for the first one's CLOSED instead of counting
    // admissions itself (the count has grown by refused puts by then). One preemption only:
    // with up to three threads waiting at once (two for CLOSED, one for the push), each wait a
    // loop of yields, two preemptions outgrow loom's branch limit. One suffices to fail a
    // second shutdown that counts for itself.
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(1);
    builder.check(|| {
        let q = Arc::new(queue(0));
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put_nowait(5))
        };
        let other = {
            let q = q.clone();
            thread::spawn(move || q.shutdown(false, drop))
        };
        q.shutdown(false, drop);
        let got = q.get_nowait();
        let put = putter.join().unwrap();
        other.join().unwrap();
        match got {
            Ok(5) => assert_eq!(put, Ok(())),
            Err(GetError::ShutDown) => assert_eq!(put, Err(PutError::ShutDown(5))),
            other => panic!("{other:?}"),
        }
        assert_eq!(q.get_nowait(), Err(GetError::ShutDown));
    });
}

#[test]
fn an_interrupted_getter_passes_its_wake_up_on() {
    model(|| {
        let q = Arc::new(queue(0));
        let quitter = {
            let q = q.clone();
            // Leaves at its first wake-up, as KeyboardInterrupt would make it; an item it gets
            // before sleeping it hands back, so that the other getter is owed exactly one.
            thread::spawn(move || {
                let r = q.get(None, |s| {
                    s.wait(None);
                    Err(())
                });
                if let Ok(Ok(item)) = r {
                    q.put_nowait(item).unwrap();
                }
            })
        };
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get(None, sleep).unwrap())
        };
        q.put_nowait(9).unwrap();
        // Without the hand-over, a wake-up taken by the quitter would leave the getter asleep
        // beside the item: a deadlock here.
        assert_eq!(getter.join().unwrap(), Ok(9));
        q.put_nowait(10).unwrap(); // wakes the quitter if it still sleeps
        quitter.join().unwrap();
    });
}

#[test]
fn a_joiner_is_woken_by_the_last_task_done() {
    model(|| {
        let q = Arc::new(queue(0));
        q.put_nowait(1).unwrap();
        let joiner = {
            let q = q.clone();
            thread::spawn(move || q.join(sleep))
        };
        assert_eq!(q.get_nowait(), Ok(1));
        q.task_done().unwrap();
        joiner.join().unwrap().unwrap();
        assert_eq!(q.unfinished_tasks(), 0);
    });
}
