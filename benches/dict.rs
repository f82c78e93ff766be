//! Criterion benches of the dict engine against `Mutex<HashMap>` and `papaya::HashMap`.
//!
//! All three maps hold `Arc<u64>` keys and values (the engine stores `Handle`s, so the others
//! pay for the same reference counting), and all three hash with the same mixer: the engine is
//! given the raw `u64` and mixes it itself (murmur3's fmix64); the others use [`Mix`], a
//! `BuildHasher` running the same fmix64. Every operation pins (engine, papaya) or locks
//! (Mutex) on its own, as a caller making one call at a time would.
//!
//! * `single/*`: one thread; get (hit), get (miss), insert of fresh keys into a pre-sized and
//!   into a growing map, remove.
//! * `mix/*/{1,2,4}`: threads started behind a `Barrier` on one shared map, each running its own
//!   pre-generated operation sequence; throughput is total operations per second.
//!   - `read_heavy`: 95% get, 5% insert (replacing) over a pre-filled key space;
//!   - `write_heavy`: 50% get, 25% insert, 25% remove over a key space half of which is present;
//!   - `insert_heavy`: every thread inserts fresh, disjoint keys into an empty map (growth
//!     under contention).
//!
//! Each multi-thread measurement runs in rounds of [`ROUND`] operations per thread on a fresh
//! map (filled and dropped outside the timed region). Keys and operation sequences are generated
//! outside the timed region too. `cargo bench --bench
//! dict` takes about five minutes (short warm-up and measurement times, 10 samples).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lockless::engine::dict::{AtomicDict, CapacityError, KeyHash};


type Obj = Arc<u64>;

// --- the three maps behind one interface ---------------------------------------------------------

trait BenchMap: Sync + Send + Sized {
    const NAME: &'static str;
    fn with_capacity(n: usize) -> Self;
    /// Whether `k` is present (a new reference to its value is taken and dropped where the API
    /// hands one out).
    fn get(&self, k: &Obj) -> bool;
    fn insert(&self, k: &Obj, v: &Obj);
    fn remove(&self, k: &Obj);
}

/// The engine, as a caller would use it: the key's `u64` as its hash, equality by value.
struct Engine(AtomicDict<Obj, Obj>);

/// Equality never fails; the only error left is out of memory (see `infallible`).
fn eq(k: u64) -> impl FnMut(&Obj) -> Result<bool, CapacityError> {
    move |stored| Ok(**stored == k)
}

fn infallible<T>(r: Result<T, CapacityError>) -> T {
    r.expect("the bench's maps fit in memory")
}

impl BenchMap for Engine {
    const NAME: &'static str = "engine";

    fn with_capacity(n: usize) -> Self {
        Engine(AtomicDict::with_capacity(n).expect("bench capacities fit"))
    }

    fn get(&self, k: &Obj) -> bool {
        black_box(infallible(self.0.get(KeyHash::new(**k), eq(**k)))).is_some()
    }

    fn insert(&self, k: &Obj, v: &Obj) {
        black_box(infallible(self.0.insert(KeyHash::new(**k), k, eq(**k), v.clone())));
    }

    fn remove(&self, k: &Obj) {
        black_box(infallible(self.0.remove(KeyHash::new(**k), k, eq(**k))));
    }
}

/// murmur3's fmix64, the engine's own mixer, as a `BuildHasher` for the other maps.
#[derive(Clone, Copy, Default)]
struct Mix;

struct MixHasher(u64);

impl BuildHasher for Mix {
    type Hasher = MixHasher;
    fn build_hasher(&self) -> MixHasher {
        MixHasher(0)
    }
}

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Locked(Mutex<HashMap<Obj, Obj, Mix>>);

impl BenchMap for Locked {
    const NAME: &'static str = "mutex_hashmap";

    fn with_capacity(n: usize) -> Self {
        Locked(Mutex::new(HashMap::with_capacity_and_hasher(n, Mix)))
    }

    fn get(&self, k: &Obj) -> bool {
        // The value is cloned, as a caller must to use it after unlocking (the engine's `get`
        // hands out a new reference too).
        let v = self.0.lock().unwrap().get(k).cloned();
        black_box(v).is_some()
    }

    fn insert(&self, k: &Obj, v: &Obj) {
        let old = self.0.lock().unwrap().insert(k.clone(), v.clone());
        black_box(old); // dropped outside the lock
    }

    fn remove(&self, k: &Obj) {
        let old = self.0.lock().unwrap().remove(k);
        black_box(old);
    }
}

struct Papaya(papaya::HashMap<Obj, Obj, Mix>);

impl BenchMap for Papaya {
    const NAME: &'static str = "papaya";

    fn with_capacity(n: usize) -> Self {
        Papaya(papaya::HashMap::builder().hasher(Mix).capacity(n).build())
    }

    fn get(&self, k: &Obj) -> bool {
        // papaya hands out `&V` under its guard: no reference count is taken.
        black_box(self.0.pin().get(k)).is_some()
    }

    fn insert(&self, k: &Obj, v: &Obj) {
        black_box(self.0.pin().insert(k.clone(), v.clone()));
    }

    fn remove(&self, k: &Obj) {
        black_box(self.0.pin().remove(k));
    }
}

// --- keys and operation sequences -----------------------------------------------------------------

/// splitmix64: a bijection, so distinct inputs give distinct (well spread) keys.
fn splitmix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `n` distinct keys, numbered from `from`.
fn keys(from: u64, n: usize) -> Vec<Obj> {
    (from..from + n as u64).map(|i| Arc::new(splitmix(i))).collect()
}

/// Keys present in the single-thread and mix maps.
const PRESENT: usize = 16 * 1024;
/// Operations per thread per round of a multi-thread mix (each round gets a fresh map).
const ROUND: u64 = 32 * 1024;

#[derive(Clone, Copy)]
enum Op {
    Get(u32),
    Insert(u32),
    Remove(u32),
}

/// A thread's operation sequence for a mix: `(get%, insert%)` (the rest remove), over keys
/// `[0, space)`, seeded by `seed`.
fn ops(seed: u64, len: usize, get_pct: u64, insert_pct: u64, space: usize) -> Vec<Op> {
    (0..len as u64)
        .map(|i| {
            let r = splitmix(seed.wrapping_mul(0x1_0000_0000) ^ i);
            let key = ((r >> 32) % space as u64) as u32;
            match r % 100 {
                p if p < get_pct => Op::Get(key),
                p if p < get_pct + insert_pct => Op::Insert(key),
                _ => Op::Remove(key),
            }
        })
        .collect()
}

// --- single thread ----------------------------------------------------------------------------------

fn single<M: BenchMap>(c: &mut Criterion) {
    let present = keys(0, PRESENT);
    let absent = keys(PRESENT as u64, PRESENT);
    let value = Arc::new(0u64);
    let mut group = c.benchmark_group("single");
    group.throughput(Throughput::Elements(1));

    let map = M::with_capacity(0);
    for k in &present {
        map.insert(k, &value);
    }
    group.bench_function(BenchmarkId::new("get_hit", M::NAME), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & (PRESENT - 1);
            map.get(&present[i])
        })
    });
    group.bench_function(BenchmarkId::new("get_miss", M::NAME), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & (PRESENT - 1);
            map.get(&absent[i])
        })
    });
    drop(map);

    // Inserts of fresh keys, in rounds of up to PRESENT into a new map (built and dropped
    // outside the timed region).
    for (name, presized) in [("insert_presized", true), ("insert_growing", false)] {
        group.bench_function(BenchmarkId::new(name, M::NAME), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let n = left.min(PRESENT);
                    let map = M::with_capacity(if presized { n } else { 0 });
                    let start = Instant::now();
                    for k in &present[..n] {
                        map.insert(k, &value);
                    }
                    total += start.elapsed();
                    drop(map);
                    left -= n;
                }
                total
            })
        });
    }

    group.bench_function(BenchmarkId::new("remove", M::NAME), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let n = left.min(PRESENT);
                let map = M::with_capacity(n);
                for k in &present[..n] {
                    map.insert(k, &value);
                }
                let start = Instant::now();
                for k in &present[..n] {
                    map.remove(k);
                }
                total += start.elapsed();
                drop(map);
                left -= n;
            }
            total
        })
    });
    group.finish();
}

// --- multi-thread mixes -----------------------------------------------------------------------------

/// A multi-thread mix: how the map starts each round, and what each thread does.
struct Workload {
    name: &'static str,
    /// Shared keys `[0, prefill)` are inserted before each round.
    prefill: usize,
    /// Each thread inserts its own fresh keys (and nothing else) instead of running `ops`.
    fresh_inserts: bool,
    get_pct: u64,
    insert_pct: u64,
}

const MIXES: [Workload; 3] = [
    Workload { name: "read_heavy", prefill: PRESENT, fresh_inserts: false, get_pct: 95, insert_pct: 5 },
    Workload { name: "write_heavy", prefill: PRESENT / 2, fresh_inserts: false, get_pct: 50, insert_pct: 25 },
    Workload { name: "insert_heavy", prefill: 0, fresh_inserts: true, get_pct: 0, insert_pct: 100 },
];

/// Runs `per_thread` operations on each of `threads` threads, in rounds; returns the time
/// spent between the barrier and the last join.
fn run_mix<M: BenchMap>(
    mix: &Workload,
    threads: usize,
    per_thread: u64,
    shared: &[Obj],
    fresh: &[Vec<Obj>],
    seqs: &[Vec<Op>],
) -> Duration {
    let value = Arc::new(1u64);
    let mut total = Duration::ZERO;
    let mut left = per_thread;
    while left > 0 {
        let n = left.min(ROUND) as usize;
        let map = M::with_capacity(0);
        for k in &shared[..mix.prefill] {
            map.insert(k, &value);
        }
        let barrier = Barrier::new(threads + 1);
        let elapsed = thread::scope(|s| {
            for t in 0..threads {
                let (map, barrier, value) = (&map, &barrier, &value);
                let (seq, fresh) = (&seqs[t][..n], &fresh[t][..fresh[t].len().min(n)]);
                s.spawn(move || {
                    barrier.wait();
                    if mix.fresh_inserts {
                        for k in fresh {
                            map.insert(k, value);
                        }
                    } else {
                        for op in seq {
                            match *op {
                                Op::Get(k) => {
                                    black_box(map.get(&shared[k as usize]));
                                }
                                Op::Insert(k) => map.insert(&shared[k as usize], value),
                                Op::Remove(k) => map.remove(&shared[k as usize]),
                            }
                        }
                    }
                });
            }
            barrier.wait();
            let start = Instant::now();
            // Leaving the scope joins every thread.
            start
        });
        total += elapsed.elapsed();
        drop(map);
        left -= n as u64;
    }
    total
}

fn mixes<M: BenchMap>(c: &mut Criterion) {
    let shared = keys(0, PRESENT);
    for mix in &MIXES {
        let mut group = c.benchmark_group(format!("mix/{}", mix.name));
        for threads in [1usize, 2, 4] {
            let seqs: Vec<Vec<Op>> = (0..threads)
                .map(|t| ops(t as u64 + 1, ROUND as usize, mix.get_pct, mix.insert_pct, PRESENT))
                .collect();
            // Disjoint fresh key ranges per thread, for the insert-only mix.
            let fresh: Vec<Vec<Obj>> = (0..threads)
                .map(|t| if mix.fresh_inserts { keys((t as u64 + 1) << 40, ROUND as usize) } else { Vec::new() })
                .collect();
            // One "element" is one operation on every thread.
            group.throughput(Throughput::Elements(threads as u64));
            group.bench_function(BenchmarkId::new(M::NAME, threads), |b| {
                b.iter_custom(|iters| run_mix::<M>(mix, threads, iters, &shared, &fresh, &seqs))
            });
        }
        group.finish();
    }
}

fn all(c: &mut Criterion) {
    single::<Engine>(c);
    single::<Locked>(c);
    single::<Papaya>(c);
    mixes::<Engine>(c);
    mixes::<Locked>(c);
    mixes::<Papaya>(c);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1500))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = all
}
criterion_main!(benches);
