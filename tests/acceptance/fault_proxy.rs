//! A fault-injecting HTTP proxy between the provider and a real server, playing the gateways
//! pipelines live behind: one that forwards a write and then answers 502, one that resets the
//! connection after forwarding, a 429 storm, a proxy that never answers. Each request is handled
//! on its own connection (`Connection: close` both ways), so a fault never spills into the next
//! attempt.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward and relay the answer.
    Pass,
    /// Forward (the server acts on it), then answer 502 instead of the server's answer.
    ForwardThen502,
    /// Forward (the server acts on it), then close the connection without answering.
    ForwardThenReset,
    /// Answer 429 with `Retry-After: 1` without forwarding.
    TooManyRequests,
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<String>,
    pub fault: Fault,
}

type Rule = dyn Fn(&str, &str, usize) -> Fault + Send + Sync;
/// Requests seen per method, path and `Idempotency-Key`.
type Counts = HashMap<(String, String, Option<String>), usize>;

pub struct FaultProxy {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FaultProxy {
    /// A proxy in front of `upstream` (`http://127.0.0.1:PORT`). `rule(method, path, n)` decides
    /// each request, `n` counting earlier requests with the same method, path and
    /// `Idempotency-Key` (from 0): for a create, how often this very create was tried before.
    pub fn start(
        upstream: &str,
        rule: impl Fn(&str, &str, usize) -> Fault + Send + Sync + 'static,
    ) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let counts: Arc<Mutex<Counts>> = Arc::default();
        let rule: Arc<Rule> = Arc::new(rule);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (upstream, log, counts, rule) =
                    (upstream.clone(), log.clone(), counts.clone(), rule.clone());
                std::thread::spawn(move || {
                    let _ = handle(stream, &upstream, &log, &counts, rule.as_ref());
                });
            }
        });
        FaultProxy { url, seen }
    }

    /// Every request so far, in arrival order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn handle(
    mut client: TcpStream,
    upstream: &str,
    log: &Mutex<Vec<Seen>>,
    counts: &Mutex<Counts>,
    rule: &Rule,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    head.extend_from_slice(request_line.as_bytes());
    let mut length = 0usize;
    let mut idempotency_key = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("idempotency-key:") {
            idempotency_key = line.split_once(':').map(|(_, v)| v.trim().to_owned());
        }
        if lower.starts_with("connection:") {
            continue;
        }
        head.extend_from_slice(line.as_bytes());
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;

    let n = {
        let mut counts = counts.lock().unwrap();
        let n = counts
            .entry((method.clone(), path.clone(), idempotency_key.clone()))
            .or_insert(0);
        *n += 1;
        *n - 1
    };
    let fault = rule(&method, &path, n);
    log.lock().unwrap().push(Seen {
        method,
        path,
        idempotency_key,
        fault,
    });
    if fault == Fault::TooManyRequests {
        let problem = r#"{"type":"urn:statuspulse:problem:rate_limited","title":"Too Many Requests","status":429,"code":"rate_limited","detail":"the gateway is shedding load"}"#;
        write!(
            client,
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{problem}",
            problem.len()
        )?;
        return client.shutdown(Shutdown::Both);
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&head)?;
    server.write_all(&body)?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    match fault {
        Fault::ForwardThen502 => {
            let text = "upstream connect error or disconnect/reset before headers";
            write!(
                client,
                "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            )?;
        }
        Fault::ForwardThenReset => {
            // Closed with nothing said: the client sees the connection drop mid-request.
            drop(reader);
            return client.shutdown(Shutdown::Both);
        }
        _ => client.write_all(&answer)?,
    }
    client.shutdown(Shutdown::Both)
}
