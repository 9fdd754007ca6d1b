//! Node's `http` and `https` in the sandbox, against real HTTP servers on 127.0.0.1: what a
//! script sees of requests, responses, redirects (not followed), gzip bodies (decoded by the
//! script with `zlib`), timeouts and failures, as Node 20 shows them.

mod common;

use common::*;
use defender_runtime::{QuickJsRuntime, RuntimeConfig};
use serde_json::{json, Value as Json};
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Text the `/gzip` route sends gzip-encoded.
const GZIP_TEXT: &str = "hello from a gzip body, hello again, hello once more";

/// Reads one request: its head (request line and headers) and its body (by content-length).
async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An HTTP server on 127.0.0.1 with the routes the tests use.
async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Some((head, body)) = read_request(&mut sock).await else {
                    return;
                };
                let mut lines = head.lines();
                let mut first = lines.next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let path = first.next().unwrap_or("").to_string();
                let headers: Vec<Json> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| json!([k.to_ascii_lowercase(), v.trim()]))
                    .collect();
                let reply = |status: &str, extra: &str, body: &[u8]| {
                    let mut r = format!(
                        "HTTP/1.1 {status}\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                };
                let out = match path.as_str() {
                    "/slow" => {
                        tokio::time::sleep(Duration::from_secs(20)).await;
                        return;
                    }
                    "/chunked" => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n")
                            .await;
                        for part in ["first,", "second,", "third"] {
                            let _ = sock
                                .write_all(format!("{:x}\r\n{part}\r\n", part.len()).as_bytes())
                                .await;
                            let _ = sock.flush().await;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        let _ = sock.write_all(b"0\r\n\r\n").await;
                        return;
                    }
                    "/gzip" => reply(
                        "200 OK",
                        "content-type: text/plain\r\ncontent-encoding: gzip\r\n",
                        &gzip(GZIP_TEXT.as_bytes()),
                    ),
                    "/redirect" => reply(
                        "301 Moved Permanently",
                        "location: /echo?from=redirect\r\n",
                        b"",
                    ),
                    "/cookies" => reply(
                        "201 Created",
                        "set-cookie: a=1; Path=/\r\nset-cookie: b=2\r\nx-dup: one\r\nx-dup: two\r\ncontent-type: text/plain\r\ncontent-type: text/html\r\n",
                        b"made",
                    ),
                    "/missing" => reply("404 Not Found", "content-type: text/plain\r\n", b"nothing here"),
                    "/big" => reply("200 OK", "", &vec![b'x'; 11 * 1024 * 1024]),
                    _ => {
                        let echo = json!({
                            "method": method,
                            "path": path,
                            "headers": headers,
                            "body": String::from_utf8_lossy(&body),
                        });
                        reply(
                            "200 OK",
                            "content-type: application/json\r\n",
                            echo.to_string().as_bytes(),
                        )
                    }
                };
                let _ = sock.write_all(&out).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

/// A runtime whose fetch policy opens the test server (loopback is refused by default).
fn runtime(addr: SocketAddr) -> QuickJsRuntime {
    QuickJsRuntime::new(RuntimeConfig::default().allow_fetch(addr.to_string()))
}

/// Runs `body` as an async handler's body with `http`, `https`, `zlib` required, `base` the
/// server's URL and `send(opts, data)` resolving with `{ res, text }` or rejecting with the
/// request's error.
async fn eval(rt: &QuickJsRuntime, addr: SocketAddr, body: &str) -> Json {
    let src = format!(
        "const http = require('http');
         const https = require('node:https');
         const zlib = require('zlib');
         const base = 'http://{addr}';
         const send = (url, opts, data) => new Promise((resolve, reject) => {{
           const req = http.request(url, opts || {{}}, (res) => {{
             const chunks = [];
             res.on('data', (c) => chunks.push(c));
             res.on('end', () => resolve({{ res, chunks, text: Buffer.concat(chunks).toString() }}));
             res.on('error', reject);
           }});
           req.on('error', reject);
           if (data !== undefined) req.write(data);
           req.end();
         }});
         const failure = (e) => [e.name, e.code, e.message];
         exports.handler = async () => {{ {body} }};"
    );
    returned(rt, &src, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_post_send_what_node_sends_and_see_what_node_sees() {
    let addr = server().await;
    let rt = runtime(addr);
    let got = eval(
        &rt,
        addr,
        r#"const get = await send(base + '/echo?x=1', { headers: { 'X-Custom': 'yes', Accept: 'application/json' } });
           const getEcho = JSON.parse(get.text);
           const payload = JSON.stringify({ hello: 'world' });
           const post = await send(new URL(base + '/submit'), { method: 'POST', headers: { 'content-type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } }, payload);
           const postEcho = JSON.parse(post.text);
           const header = (echo, name) => (echo.headers.find((h) => h[0] === name) || [])[1];
           const viaGet = await new Promise((resolve, reject) => {
             http.get(base + '/echo', (res) => { let n = 0; res.on('data', (c) => { n += c.length; }); res.on('end', () => resolve([res.statusCode, n > 0])); }).on('error', reject);
           });
           const options = { hostname: '127.0.0.1', port: Number(base.split(':')[2]), path: '/echo', method: 'PUT', auth: 'user:pass' };
           const put = JSON.parse((await send(options, undefined, Buffer.from('bytes'))).text);
           return {
             get: [getEcho.method, getEcho.path, header(getEcho, 'x-custom'), header(getEcho, 'accept'), header(getEcho, 'host')],
             status: [get.res.statusCode, get.res.statusMessage, get.res.httpVersion, get.res.headers['content-type'], typeof get.res.headers['content-length'], get.res.complete],
             post: [postEcho.method, postEcho.path, postEcho.body, header(postEcho, 'content-type'), header(postEcho, 'content-length')],
             viaGet,
             put: [put.method, put.body, header(put, 'authorization')],
             instance: get.res instanceof http.IncomingMessage && get.res.req instanceof http.ClientRequest,
           };"#,
    )
    .await;
    let host = addr.to_string();
    assert_eq!(
        got,
        json!({
            "get": ["GET", "/echo?x=1", "yes", "application/json", host],
            "status": [200, "OK", "1.1", "application/json", "string", true],
            "post": ["POST", "/submit", "{\"hello\":\"world\"}", "application/json", "17"],
            "viaGet": [200, true],
            "put": ["PUT", "bytes", "Basic dXNlcjpwYXNz"],
            "instance": true,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_headers_and_redirects_are_as_node_shows_them() {
    let addr = server().await;
    let rt = runtime(addr);
    let got = eval(
        &rt,
        addr,
        r#"const cookies = await send(base + '/cookies');
           const missing = await send(base + '/missing');
           const moved = await send(base + '/redirect');
           const raw = cookies.res.rawHeaders;
           return {
             cookies: [cookies.res.statusCode, cookies.res.statusMessage, cookies.res.headers['set-cookie'], cookies.res.headers['x-dup'], cookies.res.headers['content-type'], cookies.text],
             raw: [raw.length % 2, raw.filter((h) => /^set-cookie$/i.test(h)).length],
             missing: [missing.res.statusCode, missing.res.statusMessage, missing.text],
             moved: [moved.res.statusCode, moved.res.statusMessage, moved.res.headers.location, moved.text],
             codes: [http.STATUS_CODES[418], http.METHODS.includes('PATCH'), typeof http.Agent, http.globalAgent instanceof http.Agent, https.globalAgent.defaultPort],
           };"#,
    )
    .await;
    assert_eq!(
        got,
        json!({
            "cookies": [201, "Created", ["a=1; Path=/", "b=2"], "one, two", "text/plain", "made"],
            "raw": [0, 2],
            "missing": [404, "Not Found", "nothing here"],
            "moved": [301, "Moved Permanently", "/echo?from=redirect", ""],
            "codes": ["I'm a Teapot", true, "function", true, 443],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_and_gzip_bodies_stream_to_the_script() {
    let addr = server().await;
    let rt = runtime(addr);
    let got = eval(
        &rt,
        addr,
        r#"const chunked = await send(base + '/chunked');
           const gz = await new Promise((resolve, reject) => {
             http.get(base + '/gzip', { headers: { 'Accept-Encoding': 'gzip' } }, (res) => {
               const out = [];
               const gunzip = zlib.createGunzip();
               res.pipe(gunzip);
               gunzip.on('data', (c) => out.push(c));
               gunzip.on('end', () => resolve([res.headers['content-encoding'], Buffer.concat(out).toString()]));
               gunzip.on('error', reject);
             }).on('error', reject);
           });
           const raw = await send(base + '/gzip');
           // The global fetch decodes the body, as Node's does.
           const fetched = await fetch(base + '/gzip');
           return {
             fetched: [fetched.status, await fetched.text()],
             chunked: [chunked.res.headers['transfer-encoding'], chunked.text],
             gzip: gz,
             raw: [raw.res.headers['content-encoding'], raw.chunks.length > 0 && raw.chunks[0][0] === 0x1f, zlib.gunzipSync(Buffer.concat(raw.chunks)).toString()],
           };"#,
    )
    .await;
    assert_eq!(
        got,
        json!({
            "chunked": ["chunked", "first,second,third"],
            "fetched": [200, GZIP_TEXT],
            "gzip": ["gzip", GZIP_TEXT],
            "raw": ["gzip", true, GZIP_TEXT],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_and_failures_carry_nodes_codes() {
    let addr = server().await;
    let rt = runtime(addr);
    // A port nothing listens on (bound, then closed).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let rt_closed = QuickJsRuntime::new(
        RuntimeConfig::default()
            .allow_fetch(addr.to_string())
            .allow_fetch(closed.to_string()),
    );
    let got = eval(
        &rt,
        addr,
        r#"const events = [];
           const timedOut = await new Promise((resolve) => {
             const req = http.get(base + '/slow');
             req.setTimeout(200, () => { events.push('timeout'); req.destroy(); });
             req.on('error', (e) => { events.push('error'); resolve(failure(e)); });
             req.on('close', () => events.push('close'));
           });
           await new Promise((r) => setTimeout(r, 10));
           const big = await send(base + '/big').then(() => 'no error', failure);
           const aborted = await new Promise((resolve) => {
             const req = http.get(base + '/slow');
             const seen = [];
             req.on('error', (e) => seen.push('error'));
             req.on('abort', () => { seen.push('abort'); resolve(seen); });
             req.on('close', () => seen.push('close'));
             setTimeout(() => req.abort(), 20);
           });
           const ac = new AbortController();
           const signalled = send(base + '/slow', { signal: ac.signal }).then(() => 'no error', failure);
           setTimeout(() => ac.abort(), 20);
           return { timedOut, events, big, aborted, signalled: await signalled };"#,
    )
    .await;
    assert_eq!(
        got,
        json!({
            "timedOut": ["Error", "ECONNRESET", "socket hang up"],
            "events": ["timeout", "error", "close"],
            "big": ["Error", "ERR_RESPONSE_TOO_LARGE", "response body over 10485760 bytes"],
            "aborted": ["abort", "error", "close"],
            "signalled": ["AbortError", "ABORT_ERR", "The operation was aborted"],
        })
    );
    let got = eval(
        &rt_closed,
        addr,
        &format!(
            r#"const refused = await send('http://{closed}/').then(() => 'no error', (e) => [e.code, e.message, e.syscall, e.address, e.port, e.errno]);
               const notFound = await send('http://no-such-host.invalid/').then(() => 'no error', (e) => [e.code, e.syscall, e.hostname]);
               return {{ refused, notFound }};"#
        ),
    )
    .await;
    assert_eq!(
        got,
        json!({
            "refused": ["ECONNREFUSED", format!("connect ECONNREFUSED {closed}"), "connect", "127.0.0.1", closed.port(), -111],
            // Not in the allowlist: refused before any lookup.
            "notFound": ["ERR_ADDRESS_NOT_ALLOWED", null, null],
        })
    );
}

/// Without an allowlist (Defender's default), internal addresses are refused with a clear
/// error, whether written in the URL or resolved from a name; `https` to a host that does not
/// exist fails with Node's ENOTFOUND.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_refuses_internal_addresses() {
    let addr = server().await;
    let rt = QuickJsRuntime::default();
    let got = eval(
        &rt,
        addr,
        r#"const literal = await send(base + '/echo').then(() => 'no error', failure);
           const named = await send('http://localhost:' + base.split(':')[2] + '/echo').then(() => 'no error', failure);
           const metadata = await send('http://169.254.169.254/latest/meta-data/').then(() => 'no error', failure);
           const secure = await new Promise((resolve) => {
             https.get('https://no-such-host.invalid/path', () => resolve('response')).on('error', (e) => resolve([e.code, e.syscall, e.hostname, e.message]));
           });
           let wrong;
           try { http.get('https://example.com/'); } catch (e) { wrong = failure(e); }
           let server;
           try { http.createServer(); } catch (e) { server = e.code; }
           return { literal, named, metadata, secure, wrong, server };"#,
    )
    .await;
    let refused = |v: &Json| {
        v[0] == json!("Error")
            && v[1] == json!("ERR_ADDRESS_NOT_ALLOWED")
            && v[2].as_str().is_some_and(|m| m.contains("not allowed"))
    };
    assert!(refused(&got["literal"]), "{got}");
    assert!(refused(&got["named"]), "{got}");
    assert!(refused(&got["metadata"]), "{got}");
    assert_eq!(
        got["secure"],
        json!([
            "ENOTFOUND",
            "getaddrinfo",
            "no-such-host.invalid",
            "getaddrinfo ENOTFOUND no-such-host.invalid"
        ])
    );
    assert_eq!(
        got["wrong"],
        json!([
            "TypeError",
            "ERR_INVALID_PROTOCOL",
            "Protocol \"https:\" not supported. Expected \"http:\""
        ])
    );
    assert_eq!(got["server"], json!("ERR_NOT_AVAILABLE"));
}

/// Header names and values are checked as Node checks them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_headers_throw_nodes_errors() {
    let addr = server().await;
    let rt = runtime(addr);
    let got = eval(
        &rt,
        addr,
        r#"const req = http.request(base + '/echo');
           req.on('error', () => {});
           const out = [];
           for (const [k, v] of [['bad name', 'x'], ['x', undefined], ['x', 'a\nb']]) {
             try { req.setHeader(k, v); out.push('set'); } catch (e) { out.push(failure(e)); }
           }
           req.setHeader('X-A', ['1', '2']);
           out.push(req.getHeader('x-a'), req.hasHeader('X-A'), req.getHeaderNames());
           req.removeHeader('x-a');
           out.push(req.hasHeader('x-a'));
           req.destroy();
           return out;"#,
    )
    .await;
    assert_eq!(
        got,
        json!([
            [
                "TypeError",
                "ERR_INVALID_HTTP_TOKEN",
                "Header name must be a valid HTTP token [\"bad name\"]"
            ],
            [
                "TypeError",
                "ERR_HTTP_INVALID_HEADER_VALUE",
                "Invalid value \"undefined\" for header \"x\""
            ],
            [
                "TypeError",
                "ERR_INVALID_CHAR",
                "Invalid character in header content [\"x\"]"
            ],
            ["1", "2"],
            true,
            ["host", "x-a"],
            false
        ])
    );
}

/// The pre-installed packages that reach the network through `http`: axios (its Node adapter,
/// through follow-redirects, decoding gzip with `zlib`) and node-fetch v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axios_and_node_fetch_work_over_http() {
    if !defender_runtime::RuntimeConfig::default()
        .preinstalled
        .as_ref()
        .is_some_and(|p| p.join("axios").is_dir())
    {
        eprintln!("pre-installed packages missing (scripts/install-preinstalled.sh); skipped");
        return;
    }
    let addr = server().await;
    let rt = runtime(addr);
    let got = eval(
        &rt,
        addr,
        // As in Node, where `Object.prototype.toString.call(process)` is '[object process]':
        // axios then takes its Node (`http`) adapter.
        r#"if (Object.prototype.toString.call(process) !== '[object process]') Object.defineProperty(process, Symbol.toStringTag, { value: 'process' });
           const axios = require('axios');
           const fetch = require('node-fetch');
           const echo = await axios.post(base + '/echo', { a: 1 }, { headers: { 'X-Test': 'axios' } });
           const gz = await axios.get(base + '/gzip');
           const redirected = await axios.get(base + '/redirect');
           const missing = await axios.get(base + '/missing').then(() => 'no error', (e) => [e.response.status, e.response.data]);
           const nf = await fetch(base + '/gzip');
           const nfEcho = await (await fetch(base + '/echo', { method: 'POST', body: 'hi' })).json();
           return {
             axios: [echo.status, echo.data.method, echo.data.body, gz.data, redirected.data.path, missing, echo.request instanceof http.ClientRequest],
             nodeFetch: [nf.status, nf.headers.get('content-encoding'), await nf.text(), nfEcho.method, nfEcho.body],
           };"#,
    )
    .await;
    assert_eq!(
        got,
        json!({
            "axios": [200, "POST", "{\"a\":1}", GZIP_TEXT, "/echo?from=redirect", [404, "nothing here"], true],
            "nodeFetch": [200, "gzip", GZIP_TEXT, "POST", "hi"],
        })
    );
}
