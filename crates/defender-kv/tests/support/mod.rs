//! Test fixtures shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A real `redis-server` on 127.0.0.1, started for the test and killed on drop.
pub struct RedisServer {
    child: Child,
    /// `redis://127.0.0.1:<port>/`.
    pub url: String,
}

impl RedisServer {
    /// Starts `redis-server` (from `$DEFENDER_REDIS_SERVER` or `PATH`) without persistence.
    /// Returns `None` only when it is missing and `DEFENDER_SKIP_EXTERNAL=1`; otherwise a
    /// missing server fails the test.
    pub fn start() -> Option<RedisServer> {
        let program =
            std::env::var("DEFENDER_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let spawned = Command::new(&program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("DEFENDER_SKIP_EXTERNAL").as_deref() == Ok("1") => {
                eprintln!("skipping: cannot start {program}: {e}");
                return None;
            }
            Err(e) => panic!(
                "cannot start {program}: {e}. Install it (apt-get install -y redis-server) \
                 or set DEFENDER_SKIP_EXTERNAL=1"
            ),
        };
        let mut server = RedisServer {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("redis-server exited at start: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start in 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
