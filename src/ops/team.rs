//! The forward-pass team: threads that spin between the parallel regions of a forward pass
//! instead of sleeping, as llama.cpp's graph threads do.
//!
//! A decode step makes ~150 regions (a matvec over a few MB of weights each) of 20–200 µs; a
//! 128-token prefill ~400, with serial work (norms, RoPE) between them. Through rayon each region
//! wakes the other workers and waits for them; in `with_team` the regions go to
//! (rayon's global pool size − 1) threads that poll one atomic word for the next region:
//!
//! ```text
//! caller: publish (epoch+1, n, index 0) ──► claim indices ──► wait until done == n ──► next
//! team:   spin on the word ──► claim indices (CAS on the word) ──► done += 1 ──► spin
//!         (after SPIN without a region: sleep on a condvar until the next one)
//! ```
//!
//! One region runs at a time. A region started while the team is busy (another thread's forward
//! pass, or a region inside a region) runs on rayon as before, so nothing waits on the team.
//!
//! In threaded wasm (`wasm-threads`) there is no `std::thread::spawn` and no clock: the team's
//! threads are rayon pool threads (Web Workers) that never return to the pool, and they spin a
//! fixed number of polls before sleeping. The caller must be allowed to block (a Web Worker, or
//! Node's main thread), as rayon's own callers must.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock, TryLockError};

/// How long a team thread spins for the next region before it sleeps.
#[cfg(not(target_arch = "wasm32"))]
const SPIN: std::time::Duration = std::time::Duration::from_millis(2);

/// Polls of the team's word before a team thread sleeps, where there is no clock (wasm): a poll
/// is one atomic load and a compare, so this is meant as a few milliseconds, as natively (not
/// timed in a browser).
#[cfg(target_arch = "wasm32")]
const SPIN_POLLS: u32 = 1 << 20;

/// Counts a team thread's polls and says when it has spun long enough to sleep.
struct Spin {
    polls: u32,
    #[cfg(not(target_arch = "wasm32"))]
    start: std::time::Instant,
}

impl Spin {
    fn new() -> Self {
        Spin {
            polls: 0,
            #[cfg(not(target_arch = "wasm32"))]
            start: std::time::Instant::now(),
        }
    }

    /// One more poll; true once the thread should sleep (checked every 1024 polls).
    fn done(&mut self) -> bool {
        self.polls = self.polls.wrapping_add(1);
        if !self.polls.is_multiple_of(1024) {
            return false;
        }
        #[cfg(not(target_arch = "wasm32"))]
        return self.start.elapsed() > SPIN;
        #[cfg(target_arch = "wasm32")]
        return self.polls >= SPIN_POLLS;
    }
}

thread_local! {
    /// Whether this thread is inside [`with_team`].
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

/// Most indices a region may have (its count and next index share the team's word with the
/// epoch); a larger region runs on rayon.
const MAX_N: usize = 0xffff;

type Region = *const (dyn Fn(usize) + Sync);

struct Team {
    /// epoch (32 bits) | n (16) | next unclaimed index (16) of the current region.
    word: AtomicU64,
    /// Indices of the current region that have finished.
    done: AtomicUsize,
    /// The panic of an index of the current region, raised again by `run`.
    panicked: Mutex<Option<Box<dyn Any + Send>>>,
    /// The current region's closure; written only between regions (see `run`).
    f: UnsafeCell<Region>,
    /// Held by the thread running a region.
    busy: Mutex<()>,
    /// Team threads asleep (or about to be) on `wake`.
    sleepers: AtomicUsize,
    sleep: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `f` is written by the thread holding `busy` only while no region is open (every index
// of the last one finished), and read by team threads only after they claimed an index of the
// open region, which keeps it open until they finish it (see `claim_and_run`).
unsafe impl Sync for Team {}

fn noop(_: usize) {}

static TEAM: OnceLock<Option<&'static Team>> = OnceLock::new();

/// The team of (rayon's global pool size − 1, `RAYON_NUM_THREADS`) spinning threads, started on
/// first use; None with one thread. A caller inside another pool of two or more threads uses
/// the whole team too (one of one thread runs its regions inline, see `run`).
fn team() -> Option<&'static Team> {
    *TEAM.get_or_init(|| {
        // rayon's global pool size, also when the first caller runs inside another pool (wasm
        // has one pool, the global one).
        #[cfg(target_arch = "wasm32")]
        let threads = rayon::current_num_threads();
        #[cfg(not(target_arch = "wasm32"))]
        let threads = if rayon::current_thread_index().is_some() {
            std::thread::spawn(rayon::current_num_threads)
                .join()
                .unwrap_or(1)
        } else {
            rayon::current_num_threads()
        };
        let helpers = threads.saturating_sub(1);
        if helpers == 0 {
            return None;
        }
        let team: &'static Team = Box::leak(Box::new(Team {
            word: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            panicked: Mutex::new(None),
            f: UnsafeCell::new(&noop as &(dyn Fn(usize) + Sync)),
            busy: Mutex::new(()),
            sleepers: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        }));
        for i in 0..helpers {
            #[cfg(not(target_arch = "wasm32"))]
            std::thread::Builder::new()
                .name(format!("tinychat-team-{i}"))
                .spawn(move || team.serve())
                .expect("starting a forward-pass team thread");
            // Pool threads are the only threads wasm can start; these stay with the team.
            #[cfg(target_arch = "wasm32")]
            {
                let _ = i;
                rayon::spawn(move || team.serve());
            }
        }
        Some(team)
    })
}

impl Team {
    fn epoch(word: u64) -> u64 {
        word >> 32
    }

    /// A team thread: runs its share of every region, forever.
    fn serve(&self) {
        let mut seen = Self::epoch(self.word.load(Ordering::Acquire));
        loop {
            let mut spin = Spin::new();
            seen = loop {
                let e = Self::epoch(self.word.load(Ordering::Acquire));
                if e != seen {
                    break e;
                }
                std::hint::spin_loop();
                if spin.done() {
                    break self.sleep_until_after(seen);
                }
            };
            self.claim_and_run(seen);
        }
    }

    /// Sleeps until the epoch differs from `seen`; returns the new epoch.
    fn sleep_until_after(&self, seen: u64) -> u64 {
        let mut g = self.sleep.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        loop {
            let e = Self::epoch(self.word.load(Ordering::SeqCst));
            if e != seen {
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return e;
            }
            g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Claims and runs indices of region `epoch` until none is left (or a later region opened).
    /// A panicking index still counts as done; `run` raises it on the region's thread.
    fn claim_and_run(&self, epoch: u64) {
        let mut w = self.word.load(Ordering::Acquire);
        loop {
            let (n, i) = ((w >> 16) & 0xffff, w & 0xffff);
            if Self::epoch(w) != epoch || i >= n {
                return;
            }
            match self
                .word
                .compare_exchange_weak(w, w + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    // Index i is ours: the region cannot close, nor `f` change, before we count
                    // it done, and `f` was written before the region's word was published.
                    // SAFETY: see `unsafe impl Sync for Team`; `run` keeps the closure alive
                    // until every index is done.
                    let f = unsafe { *self.f.get() };
                    let r = catch_unwind(AssertUnwindSafe(|| unsafe { (*f)(i as usize) }));
                    if let Err(e) = r {
                        // The first panic is raised; a later one's payload is leaked rather
                        // than dropped here (its drop could panic and kill this thread).
                        let mut first = self.panicked.lock().unwrap_or_else(|e| e.into_inner());
                        if first.is_none() {
                            *first = Some(e);
                        } else {
                            std::mem::forget(e);
                        }
                    }
                    self.done.fetch_add(1, Ordering::Release);
                    w = self.word.load(Ordering::Acquire);
                }
                Err(now) => w = now,
            }
        }
    }
}

/// Runs `f` with this thread's parallel regions on the team (see the module docs).
pub fn with_team<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.0));
        }
    }
    let _reset = Reset(ACTIVE.with(|a| a.replace(true)));
    f()
}

/// Runs `f(i)` for i in 0..n on the team and this thread if this thread is in [`with_team`]
/// and the team is free; returns false (having run nothing) otherwise.
pub(crate) fn run(n: usize, f: &(dyn Fn(usize) + Sync)) -> bool {
    if !ACTIVE.with(|a| a.get()) || n > MAX_N {
        return false;
    }
    // One thread (the process's pool, or a one-thread pool the caller runs in): nothing to share.
    let team = match team() {
        Some(team) if super::num_threads() > 1 => team,
        _ => {
            (0..n).for_each(f);
            return true;
        }
    };
    let _busy = match team.busy.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(g)) => g.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    // No region is open (the last one's indices all finished before its `run` returned), so no
    // team thread reads `f` now: that needs a claimed index of an open region.
    // SAFETY: see `unsafe impl Sync for Team`. The closure's lifetime is erased; `run` does not
    // return before every index (the only uses of it) has finished.
    unsafe { *team.f.get() = std::mem::transmute::<&(dyn Fn(usize) + Sync), Region>(f) };
    team.done.store(0, Ordering::Relaxed);
    let epoch = (Team::epoch(team.word.load(Ordering::Relaxed)) + 1) & 0xffff_ffff;
    team.word
        .store(epoch << 32 | (n as u64) << 16, Ordering::SeqCst);
    if team.sleepers.load(Ordering::SeqCst) > 0 {
        let _g = team.sleep.lock().unwrap_or_else(|e| e.into_inner());
        team.wake.notify_all();
    }
    team.claim_and_run(epoch);
    while team.done.load(Ordering::Acquire) < n {
        std::hint::spin_loop();
    }
    if let Some(e) = team
        .panicked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        resume_unwind(e);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs regions of 1..=1000 indices; returns how often each index ran.
    fn regions(rounds: usize) -> Vec<usize> {
        let counts: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        with_team(|| {
            for round in 0..rounds {
                let n = 1 + round * 5 % 1000;
                // On the team, or (another thread holds it) not run at all: then run it here.
                let f = |i: usize| {
                    counts[i].fetch_add(1, Ordering::Relaxed);
                };
                if !run(n, &f) {
                    (0..n).for_each(f);
                }
            }
        });
        counts.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    #[test]
    fn every_index_runs_once_from_one_thread_or_two() {
        let want: Vec<usize> = (0..1000)
            .map(|i| (0..300).filter(|r| 1 + r * 5 % 1000 > i).count())
            .collect();
        assert_eq!(regions(300), want);
        let both = std::thread::scope(|s| {
            let a = s.spawn(|| regions(300));
            let b = s.spawn(|| regions(300));
            [a.join().unwrap(), b.join().unwrap()]
        });
        assert_eq!(both, [want.clone(), want]);
    }

    /// `run(n, f)` once the team is free (other tests share it).
    fn run_on_team(n: usize, f: &(dyn Fn(usize) + Sync)) {
        while !run(n, f) {
            std::thread::yield_now();
        }
    }

    #[test]
    fn nested_regions_and_panics_leave_the_team_working() {
        with_team(|| {
            // A region inside a region finds the team busy and says so.
            let inner = AtomicUsize::new(0);
            run_on_team(2, &|_| {
                assert!(!run(1, &|_| {}));
                inner.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(inner.load(Ordering::Relaxed), 2);
            // A panicking index (on whichever thread) reaches the caller, after all others ran.
            let ran = AtomicUsize::new(0);
            let r = catch_unwind(AssertUnwindSafe(|| {
                run_on_team(64, &|i| {
                    ran.fetch_add(1, Ordering::Relaxed);
                    assert!(i != 17, "index 17 fails");
                })
            }));
            let msg = r.expect_err("index 17 panics");
            assert_eq!(msg.downcast_ref::<&str>(), Some(&"index 17 fails"));
            assert_eq!(ran.load(Ordering::Relaxed), 64);
            let ran = AtomicUsize::new(0);
            run_on_team(64, &|_| {
                ran.fetch_add(1, Ordering::Relaxed);
            });
            assert_eq!(ran.load(Ordering::Relaxed), 64);
        });
        // Outside `with_team` nothing runs on the team.
        assert!(!run(1, &|_| unreachable!()));
    }
}
