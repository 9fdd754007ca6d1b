//! Script threads: a growing pool of threads with a known stack size.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Task = Box<dyn FnOnce(&Delivered<'_>) + Send + 'static>;

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

/// Threads are started on demand, up to `max`, and kept for later runs.
pub(crate) struct Pool {
    tx: Mutex<mpsc::Sender<Task>>,
    rx: Arc<Mutex<mpsc::Receiver<Task>>>,
    idle: Arc<AtomicUsize>,
    threads: AtomicUsize,
    max: usize,
    stack: usize,
}

impl Pool {
    pub(crate) fn new(max: usize, stack: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        Pool {
            tx: Mutex::new(tx),
            rx: Arc::new(Mutex::new(rx)),
            idle: Arc::new(AtomicUsize::new(0)),
            threads: AtomicUsize::new(0),
            max,
            stack,
        }
    }

    pub(crate) fn submit(&self, task: Task) {
        let sent = self.tx.lock().unwrap_or_else(|e| e.into_inner()).send(task);
        if sent.is_err() {
            return;
        }
        if self.idle.load(Ordering::SeqCst) == 0 && self.threads.load(Ordering::SeqCst) < self.max {
            self.threads.fetch_add(1, Ordering::SeqCst);
            let rx = self.rx.clone();
            let idle = self.idle.clone();
            let spawned = std::thread::Builder::new()
                .name("defender-js".into())
                .stack_size(self.stack)
                .spawn(move || {
                    let mut counted = false;
                    loop {
                        if !counted {
                            idle.fetch_add(1, Ordering::SeqCst);
                        }
                        let task = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        idle.fetch_sub(1, Ordering::SeqCst);
                        let Ok(task) = task else { return };
                        let delivered = Delivered {
                            idle: &idle,
                            marked: Cell::new(false),
                        };
                        task(&delivered);
                        counted = delivered.marked.get();
                    }
                });
            if spawned.is_err() {
                self.threads.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Submits a task that marks itself delivered when `mark` is set, reports on `done` and
    /// keeps its thread busy for a while; then a second task. Returns how many threads the
    /// pool started.
    fn threads_started(mark: bool) -> usize {
        let pool = Pool::new(8, 256 << 10);
        let (done, results) = mpsc::channel();
        let first = done.clone();
        pool.submit(Box::new(move |delivered| {
            if mark {
                delivered.mark();
            }
            first.send(1).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }));
        assert_eq!(results.recv().unwrap(), 1);
        pool.submit(Box::new(move |_| done.send(2).unwrap()));
        assert_eq!(results.recv_timeout(Duration::from_secs(10)).unwrap(), 2);
        pool.threads.load(Ordering::SeqCst)
    }

    #[test]
    fn a_delivered_task_counts_as_idle() {
        // The second task waits for the thread whose task only has cleanup left...
        assert_eq!(threads_started(true), 1);
        // ...and gets a thread of its own when the first one is still running.
        assert_eq!(threads_started(false), 2);
    }
}
