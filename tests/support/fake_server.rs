//! A scriptable HTTP/1.1 server on 127.0.0.1 that speaks the providers' wire formats byte for
//! byte: each request gets the next scripted reply (status, headers, a body sent in small
//! chunks with delays, a cut connection, silence), and every request is recorded so tests
//! can assert on headers and body.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One request as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Which TCP connection it came on (0, 1, … in accept order): equal ids mean reuse.
    pub connection: usize,
    pub method: String,
    pub path: String,
    /// Names lowercased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The whole request as text (request line, headers, body), for "never contains" checks.
    pub fn raw_text(&self) -> String {
        let mut s = format!("{} {}\n", self.method, self.path);
        for (k, v) in &self.headers {
            s.push_str(&format!("{k}: {v}\n"));
        }
        s.push_str(&String::from_utf8_lossy(&self.body));
        s
    }
}

/// How the body of a reply goes out.
#[derive(Debug, Clone)]
pub enum Body {
    /// All at once with a `content-length`.
    Full(Vec<u8>),
    /// `transfer-encoding: chunked`, one HTTP chunk per piece, `delay` before each.
    Chunked {
        pieces: Vec<Vec<u8>>,
        delay: Duration,
        /// After this many pieces, drop the connection without the terminating chunk.
        cut_after: Option<usize>,
        /// After this many pieces, go silent (connection stays open).
        stall_after: Option<usize>,
    },
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
    },
    /// Read the request and never answer.
    Hang,
    /// Read the request and close the connection without a response.
    Close,
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Full(body.as_bytes().to_vec()),
        }
    }

    /// An event stream sent in pieces of 7 bytes (splitting lines, `\r\n` pairs and UTF-8
    /// characters) with 1 ms between them.
    pub fn sse(stream: &str) -> Reply {
        Reply::Respond {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/event-stream".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            body: Body::Chunked {
                pieces: split_every(stream.as_bytes(), 7),
                delay: Duration::from_millis(1),
                cut_after: None,
                stall_after: None,
            },
        }
    }

    /// Sets the pause before each piece of a chunked body.
    pub fn delay(mut self, pause: Duration) -> Reply {
        if let Reply::Respond {
            body: Body::Chunked { delay, .. },
            ..
        } = &mut self
        {
            *delay = pause;
        }
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.to_string(), value.to_string()));
        }
        self
    }

    /// Re-splits a chunked body into pieces of `size` bytes.
    pub fn pieces_of(mut self, size: usize) -> Reply {
        if let Reply::Respond {
            body: Body::Chunked { pieces, .. },
            ..
        } = &mut self
        {
            *pieces = split_every(&pieces.concat(), size);
        }
        self
    }

    /// Sends a chunked body up to (not including) the first occurrence of `marker`, then
    /// drops the connection.
    pub fn cut_before(self, marker: &str) -> Reply {
        self.limit_before(marker, true)
    }

    /// Sends a chunked body up to the first occurrence of `marker`, then goes silent.
    pub fn stall_before(self, marker: &str) -> Reply {
        self.limit_before(marker, false)
    }

    fn limit_before(mut self, marker: &str, cut: bool) -> Reply {
        if let Reply::Respond {
            body:
                Body::Chunked {
                    pieces,
                    cut_after,
                    stall_after,
                    ..
                },
            ..
        } = &mut self
        {
            let all = pieces.concat();
            let at = find(&all, marker.as_bytes()).unwrap_or(all.len());
            let mut kept = split_every(&all[..at], 7);
            let n = kept.len();
            kept.extend(split_every(&all[at..], 7));
            *pieces = kept;
            if cut {
                *cut_after = Some(n);
            } else {
                *stall_after = Some(n);
            }
        }
        self
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len().max(1)).position(|w| w == needle)
}

fn split_every(bytes: &[u8], size: usize) -> Vec<Vec<u8>> {
    bytes.chunks(size.max(1)).map(<[u8]>::to_vec).collect()
}

pub struct FakeServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
    task: JoinHandle<()>,
}

impl FakeServer {
    /// Starts a server answering request N with `replies[N]` (a 500 once they run out).
    pub async fn start(replies: Vec<Reply>) -> FakeServer {
        Self::launch(replies, false).await
    }

    /// Starts a server answering every request with `reply` (for benchmarks).
    pub async fn start_repeating(reply: Reply) -> FakeServer {
        Self::launch(vec![reply], true).await
    }

    async fn launch(replies: Vec<Reply>, repeat_last: bool) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(replies);
        let next = Arc::new(AtomicUsize::new(0));
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            let mut connection = 0;
            while let Ok((socket, _)) = listener.accept().await {
                // Small writes go out at once, as a real streaming server's do (otherwise
                // Nagle + delayed ACK adds ~40 ms per response).
                let _ = socket.set_nodelay(true);
                connection += 1;
                let id = connection - 1;
                let replies = Arc::clone(&replies);
                let next = Arc::clone(&next);
                let recorded = Arc::clone(&recorded);
                let script = Script {
                    replies,
                    next,
                    repeat_last,
                };
                connections.spawn(serve(socket, id, script, recorded));
            }
        });
        FakeServer {
            addr,
            requests,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn hits(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A URL where nothing listens (a port just bound and released).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}

struct Script {
    replies: Arc<Vec<Reply>>,
    next: Arc<AtomicUsize>,
    repeat_last: bool,
}

impl Script {
    fn next_reply(&self) -> Reply {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        let scripted = if self.repeat_last {
            self.replies
                .get(index.min(self.replies.len().saturating_sub(1)))
        } else {
            self.replies.get(index)
        };
        scripted.cloned().unwrap_or_else(|| {
            Reply::json(
                500,
                &format!(r#"{{"error":"fake server: no reply scripted for request {index}"}}"#),
            )
        })
    }
}

async fn serve(
    mut socket: TcpStream,
    connection: usize,
    script: Script,
    recorded: Arc<Mutex<Vec<RecordedRequest>>>,
) {
    // Keep-alive: serve requests on this connection until a reply ends it.
    while let Some(mut request) = read_request(&mut socket).await {
        request.connection = connection;
        if let Ok(mut r) = recorded.lock() {
            r.push(request);
        }
        let reply = script.next_reply();
        match write_reply(&mut socket, reply).await {
            Ok(KeepAlive::Yes) => continue,
            Ok(KeepAlive::No) | Err(_) => return,
        }
    }
}

enum KeepAlive {
    Yes,
    No,
}

async fn read_request(socket: &mut TcpStream) -> Option<RecordedRequest> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(RecordedRequest {
        connection: 0,
        method,
        path,
        headers,
        body,
    })
}

async fn write_reply(socket: &mut TcpStream, reply: Reply) -> std::io::Result<KeepAlive> {
    let (status, headers, body) = match reply {
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return Ok(KeepAlive::No);
        }
        Reply::Close => {
            socket.shutdown().await?;
            return Ok(KeepAlive::No);
        }
        Reply::Respond {
            status,
            headers,
            body,
        } => (status, headers, body),
    };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match body {
        Body::Full(bytes) => {
            head.push_str(&format!("content-length: {}\r\n\r\n", bytes.len()));
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(&bytes).await?;
        }
        Body::Chunked {
            pieces,
            delay,
            cut_after,
            stall_after,
        } => {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            socket.write_all(head.as_bytes()).await?;
            socket.flush().await?;
            for (i, piece) in pieces.iter().enumerate() {
                if cut_after == Some(i) {
                    // Abrupt end: no terminating zero-length chunk.
                    socket.shutdown().await?;
                    return Ok(KeepAlive::No);
                }
                if stall_after == Some(i) {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let mut frame = format!("{:x}\r\n", piece.len()).into_bytes();
                frame.extend_from_slice(piece);
                frame.extend_from_slice(b"\r\n");
                socket.write_all(&frame).await?;
                socket.flush().await?;
            }
            if cut_after.is_some_and(|n| n >= pieces.len()) {
                socket.shutdown().await?;
                return Ok(KeepAlive::No);
            }
            socket.write_all(b"0\r\n\r\n").await?;
        }
    }
    socket.flush().await?;
    Ok(KeepAlive::Yes)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Realistic Anthropic Messages and OpenAI Chat Completions event streams.
pub mod wire {
    /// A complete Messages stream: `message_start` with cache usage, a text block with one
    /// `content_block_delta` per delta, `ping`s, `message_delta` and `message_stop`.
    pub fn anthropic_stream(model: &str, deltas: &[&str], usage: AnthropicUsage) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "event: message_start\ndata: {{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{model}\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":{},\"cache_creation_input_tokens\":{},\"cache_read_input_tokens\":{},\"output_tokens\":1}}}}}}\n\n",
            usage.input, usage.cache_write, usage.cache_read
        ));
        s.push_str("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
        s.push_str("event: ping\ndata: {\"type\": \"ping\"}\n\n");
        for (i, d) in deltas.iter().enumerate() {
            let text = serde_json::to_string(d).unwrap_or_default();
            s.push_str(&format!(
                "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":{text}}}}}\n\n"
            ));
            if i == 1 {
                s.push_str("event: ping\ndata: {\"type\": \"ping\"}\n\n");
            }
        }
        s.push_str(
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        );
        s.push_str(&format!(
            "event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{}}}}}\n\n",
            usage.output
        ));
        s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        s
    }

    /// A streamed Messages answer in two deltas split mid-text, so a marker at its end may
    /// arrive split, as in a real stream.
    pub fn anthropic_split_answer(model: &str, text: &str, usage: AnthropicUsage) -> super::Reply {
        let mid = text
            .char_indices()
            .nth(text.chars().count() / 2)
            .map_or(0, |(i, _)| i);
        let (a, b) = text.split_at(mid);
        super::Reply::sse(&anthropic_stream(model, &[a, b], usage))
    }

    /// A coaching-sized answer from `claude-sonnet-4-6` (1,200 tokens in, 300 out), streamed
    /// in two deltas.
    pub fn sonnet_answer(text: &str) -> super::Reply {
        anthropic_split_answer(
            "claude-sonnet-4-6",
            text,
            AnthropicUsage {
                input: 1200,
                cache_write: 0,
                cache_read: 0,
                output: 300,
            },
        )
    }

    /// `n` words starting with `marker`, so a text can be recognised in later requests.
    pub fn words(marker: &str, n: usize) -> String {
        let mut w = vec![marker.to_string()];
        w.extend((1..n).map(|i| format!("word{i}")));
        w.join(" ")
    }

    #[derive(Debug, Clone, Copy)]
    pub struct AnthropicUsage {
        pub input: u64,
        pub cache_write: u64,
        pub cache_read: u64,
        pub output: u64,
    }

    /// A Messages stream that starts, streams `deltas`, then sends an `error` event.
    pub fn anthropic_error_after(deltas: &[&str], error_type: &str, message: &str) -> String {
        let full = anthropic_stream(
            "claude-haiku-4-5",
            deltas,
            AnthropicUsage {
                input: 10,
                cache_write: 0,
                cache_read: 0,
                output: 0,
            },
        );
        let cut = full.find("event: content_block_stop").unwrap_or(full.len());
        format!(
            "{}event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"{error_type}\",\"message\":\"{message}\"}}}}\n\n",
            &full[..cut]
        )
    }

    pub fn anthropic_error_body(error_type: &str, message: &str) -> String {
        format!(
            r#"{{"type":"error","error":{{"type":"{error_type}","message":"{message}"}},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}}"#
        )
    }

    /// A Chat Completions stream: role chunk, one chunk per delta, a `finish_reason` chunk,
    /// the usage chunk (when given), `[DONE]`. Lines end in `\r\n` like some proxies send.
    pub fn openai_stream(model: &str, deltas: &[&str], usage: Option<OpenAiUsage>) -> String {
        let chunk = |delta: &str, finish: &str| {
            format!(
                "data: {{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"{model}\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}],\"usage\":null}}\r\n\r\n"
            )
        };
        let mut s = chunk(
            r#"{"role":"assistant","content":"","refusal":null}"#,
            "null",
        );
        for d in deltas {
            let text = serde_json::to_string(d).unwrap_or_default();
            s.push_str(&chunk(&format!("{{\"content\":{text}}}"), "null"));
        }
        s.push_str(&chunk("{}", "\"stop\""));
        if let Some(u) = usage {
            s.push_str(&format!(
                "data: {{\"id\":\"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT\",\"object\":\"chat.completion.chunk\",\"created\":1741569952,\"model\":\"{model}\",\"system_fingerprint\":\"fp_eb9dce56a8\",\"choices\":[],\"usage\":{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":{},\"audio_tokens\":0}},\"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}}}}\r\n\r\n",
                u.prompt,
                u.completion,
                u.prompt + u.completion,
                u.cached
            ));
        }
        s.push_str("data: [DONE]\r\n\r\n");
        s
    }

    #[derive(Debug, Clone, Copy)]
    pub struct OpenAiUsage {
        pub prompt: u64,
        pub completion: u64,
        pub cached: u64,
    }

    pub fn openai_error_body(code: &str, kind: &str, message: &str) -> String {
        format!(
            r#"{{"error":{{"message":"{message}","type":"{kind}","param":null,"code":"{code}"}}}}"#
        )
    }
}
