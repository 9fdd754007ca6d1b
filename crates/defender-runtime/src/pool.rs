//! Script threads: a growing pool of threads with a known stack size.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Task = Box<dyn FnOnce() + Send + 'static>;

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
                .spawn(move || loop {
                    idle.fetch_add(1, Ordering::SeqCst);
                    let task = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    idle.fetch_sub(1, Ordering::SeqCst);
                    match task {
                        Ok(t) => t(),
                        Err(_) => return,
                    }
                });
            if spawned.is_err() {
                self.threads.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}
