//! Script threads: a growing pool of threads with a known stack size for fresh contexts, and
//! the threads of the warm contexts ([`warm`]).

pub(crate) mod warm;

use crate::sandbox::RunOutput;
use defender_core::RunError;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Task = Box<dyn FnOnce(&Delivered<'_>) + Send + 'static>;

/// Runs `f`, turning a panic into an internal error (the thread lives on).
pub(crate) fn run_caught(f: impl FnOnce() -> RunOutput) -> RunOutput {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        (
            Err(RunError::Internal("the script thread panicked".into())),
            vec![],
        )
    })
}

/// Given to a task so it can say that what it still has to do is quick cleanup after its
/// result was delivered: a task submitted meanwhile waits for this thread rather than
/// starting another one (a new thread would also have to create its QuickJS runtime).
pub(crate) struct Delivered<'a> {
    idle: &'a AtomicUsize,
    marked: Cell<bool>,
}

impl Delivered<'_> {
    /// Counts this thread as idle from now on.
    pub(crate) fn mark(&self) {
        if !self.marked.replace(true) {
            self.idle.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Threads are started on demand, up to `max`, and kept for later runs; a thread idle for
/// `idle_exit` ends (the last one stays), giving back its stack and the spare context it
/// prepared. At most `max_queued` tasks wait for a thread.
pub(crate) struct Pool {
    tx: Mutex<mpsc::Sender<Task>>,
    shared: Arc<Shared>,
    max: usize,
    max_queued: usize,
    stack: usize,
}

/// What the pool and its threads share.
struct Shared {
    rx: Mutex<mpsc::Receiver<Task>>,
    idle: AtomicUsize,
    /// Tasks submitted and not yet taken by a thread.
    queued: AtomicUsize,
    threads: AtomicUsize,
    idle_exit: Duration,
    /// Run by a thread before it ends (to free what it keeps for later tasks).
    on_exit: fn(),
}

impl Shared {
    /// A thread's loop: take tasks until idle for `idle_exit` (unless it is the last).
    fn serve(&self) {
        let mut counted = false;
        loop {
            if !counted {
                self.idle.fetch_add(1, Ordering::SeqCst);
            }
            // The deadline is this thread's own: threads waiting for the lock behind an
            // idle one end in turn, not one idle period each.
            let deadline = Instant::now() + self.idle_exit;
            let task = {
                let rx = self.rx.lock().unwrap_or_else(|e| e.into_inner());
                match spin_for(&rx) {
                    Some(task) => Ok(task),
                    None => rx.recv_timeout(deadline.saturating_duration_since(Instant::now())),
                }
            };
            let task = match task {
                Ok(task) => task,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let last = self
                        .threads
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                            (t > 1).then(|| t - 1)
                        })
                        .is_err();
                    if last {
                        counted = true;
                        continue;
                    }
                    self.idle.fetch_sub(1, Ordering::SeqCst);
                    (self.on_exit)();
                    return;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.idle.fetch_sub(1, Ordering::SeqCst);
                    return;
                }
            };
            self.idle.fetch_sub(1, Ordering::SeqCst);
            self.queued.fetch_sub(1, Ordering::SeqCst);
            let delivered = Delivered {
                idle: &self.idle,
                marked: Cell::new(false),
            };
            task(&delivered);
            counted = delivered.marked.get();
        }
    }
}

/// How long a thread that just finished a task (or a warm context's run) polls for the next
/// one before it sleeps. Waking a sleeping thread costs tens of microseconds on a virtual machine, as much as a
/// hello-world run: runs that come back to back (a monitor's matches, a burst of webhooks)
/// find the thread still awake, and an idle thread spends at most this much per task.
const SPIN: Duration = Duration::from_micros(50);

/// The next message on `rx`, if one arrives within [`SPIN`].
pub(crate) fn spin_for<T>(rx: &mpsc::Receiver<T>) -> Option<T> {
    let until = Instant::now() + SPIN;
    loop {
        match rx.try_recv() {
            Ok(message) => return Some(message),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) if Instant::now() >= until => return None,
            Err(mpsc::TryRecvError::Empty) => std::hint::spin_loop(),
        }
    }
}

impl Pool {
    pub(crate) fn new(
        max: usize,
        max_queued: usize,
        stack: usize,
        idle_exit: Duration,
        on_exit: fn(),
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        Pool {
            tx: Mutex::new(tx),
            shared: Arc::new(Shared {
                rx: Mutex::new(rx),
                idle: AtomicUsize::new(0),
                queued: AtomicUsize::new(0),
                threads: AtomicUsize::new(0),
                idle_exit,
                on_exit,
            }),
            max,
            max_queued,
            stack,
        }
    }

    /// Hands `task` to a thread; `Err` with the number of waiting tasks when as many as the
    /// pool queues are already waiting (the task is dropped).
    pub(crate) fn submit(&self, task: Task) -> Result<(), usize> {
        let sh = &self.shared;
        // Every thread busy: the task waits, if there is room in the queue.
        let waiting = sh.queued.fetch_add(1, Ordering::SeqCst);
        let threads_free =
            sh.idle.load(Ordering::SeqCst) > 0 || sh.threads.load(Ordering::SeqCst) < self.max;
        if waiting >= self.max_queued && !threads_free {
            sh.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(waiting);
        }
        let sent = self.tx.lock().unwrap_or_else(|e| e.into_inner()).send(task);
        if sent.is_err() {
            sh.queued.fetch_sub(1, Ordering::SeqCst);
            return Ok(());
        }
        if sh.idle.load(Ordering::SeqCst) == 0 && sh.threads.load(Ordering::SeqCst) < self.max {
            sh.threads.fetch_add(1, Ordering::SeqCst);
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("defender-js".into())
                .stack_size(self.stack)
                .spawn(move || shared.serve());
            if spawned.is_err() {
                sh.threads.fetch_sub(1, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    /// Script threads alive now.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.shared.threads.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Submits a task that marks itself delivered when `mark` is set, reports on `done` and
    /// keeps its thread busy for a while; then a second task. Returns how many threads the
    /// pool started.
    fn threads_started(mark: bool) -> usize {
        let pool = Pool::new(8, 8, 256 << 10, Duration::from_secs(60), || {});
        let (done, results) = mpsc::channel();
        let first = done.clone();
        let _ = pool.submit(Box::new(move |delivered| {
            if mark {
                delivered.mark();
            }
            first.send(1).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }));
        assert_eq!(results.recv().unwrap(), 1);
        pool.submit(Box::new(move |_| done.send(2).unwrap()))
            .unwrap();
        assert_eq!(results.recv_timeout(Duration::from_secs(10)).unwrap(), 2);
        pool.threads()
    }

    #[test]
    fn tasks_beyond_the_queue_bound_are_refused() {
        let pool = Pool::new(1, 2, 256 << 10, Duration::from_secs(60), || {});
        let (release, wait) = mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let (done, finished) = mpsc::channel();
        let mut refused = 0;
        for _ in 0..6 {
            let (wait, done) = (wait.clone(), done.clone());
            let task: Task = Box::new(move |_| {
                let _ = wait.lock().unwrap().recv();
                done.send(()).unwrap();
            });
            if pool.submit(task).is_err() {
                refused += 1;
            }
        }
        // One task runs (or is about to be taken), at most two wait; the others are refused.
        assert!((3..=4).contains(&refused), "refused {refused}");
        for _ in 0..6 {
            let _ = release.send(());
        }
        for _ in 0..(6 - refused) {
            finished.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        // Room again once the queue drained.
        let (tx, rx) = mpsc::channel();
        pool.submit(Box::new(move |_| tx.send(()).unwrap()))
            .unwrap();
        let _ = release.send(());
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn idle_threads_end_but_the_last() {
        let pool = Pool::new(8, 8, 256 << 10, Duration::from_millis(100), || {});
        let (done, results) = mpsc::channel();
        let gate = Arc::new(std::sync::Barrier::new(4));
        for _ in 0..4 {
            let (done, gate) = (done.clone(), gate.clone());
            pool.submit(Box::new(move |_| {
                gate.wait();
                done.send(()).unwrap();
            }))
            .unwrap();
        }
        for _ in 0..4 {
            results.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        assert_eq!(pool.threads(), 4);
        let start = Instant::now();
        while pool.threads() > 1 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(pool.threads(), 1);
        // The last thread still serves.
        pool.submit(Box::new(move |_| done.send(()).unwrap()))
            .unwrap();
        results.recv_timeout(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn polling_takes_what_is_queued_and_gives_up_on_an_empty_or_closed_channel() {
        let (tx, rx) = mpsc::channel();
        tx.send(7).unwrap();
        assert_eq!(spin_for(&rx), Some(7));
        assert_eq!(spin_for(&rx), None);
        drop(tx);
        assert_eq!(spin_for(&rx), None);
    }

    #[test]
    fn a_delivered_task_counts_as_idle() {
        // The second task waits for the thread whose task only has cleanup left...
        assert_eq!(threads_started(true), 1);
        // ...and gets a thread of its own when the first one is still running.
        assert_eq!(threads_started(false), 2);
    }
}
