//! A real `redis-server` on 127.0.0.1 for tests.

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
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                // The port was free when chosen, but another test's server may have taken it
                // since (and ours then failed to bind): serve only if the server is ours.
                return match server_pid(stream) {
                    Some(pid) if pid == server.child.id() => Some(server),
                    _ => {
                        drop(server);
                        Self::start()
                    }
                };
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

/// The process id a Redis server reports in `INFO server`.
fn server_pid(mut stream: std::net::TcpStream) -> Option<u32> {
    use std::io::{Read, Write};
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
        .ok()?;
    // The reply is one bulk string: `$<length>\r\n<text>\r\n`.
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&reply);
        if let Some((head, _)) = text.split_once("\r\n") {
            let len: usize = head.strip_prefix('$')?.parse().ok()?;
            if reply.len() >= head.len() + 2 + len {
                break;
            }
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        reply.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&reply);
    let line = text.lines().find_map(|l| l.strip_prefix("process_id:"))?;
    line.trim().parse().ok()
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
