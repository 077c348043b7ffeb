//! Provider overhead: decoding speed of both wire formats, and the client-side cost of one
//! streamed call against a local server that answers instantly.
//!
//! `cargo bench --bench providers`

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use grow::providers::sse::SseParser;
use grow::providers::{
    AnthropicClient, AnthropicConfig, AnthropicDecoder, ChatMessage, ChatRequest,
    OpenAiCompatClient, OpenAiCompatConfig, OpenAiDecoder, OutputLimitField, Provider, Secret,
    Timeouts, WireDecoder,
};

#[allow(dead_code)]
#[path = "../tests/support/fake_server.rs"]
mod fake_server;

use fake_server::wire::{self, AnthropicUsage, OpenAiUsage};
use fake_server::{FakeServer, Reply};

/// A long answer: 2 000 deltas of a few words each.
fn deltas() -> Vec<String> {
    (0..2000).map(|i| format!("word{i} and 你好 ")).collect()
}

fn decode_all<D: WireDecoder + Default>(bytes: &[u8], piece: usize) -> usize {
    let mut parser = SseParser::new();
    let mut decoder = D::default();
    let mut n = 0;
    for chunk in bytes.chunks(piece) {
        for event in parser.feed(chunk).unwrap_or_default() {
            n += decoder.decode(&event).map_or(0, |items| items.len());
        }
    }
    n
}

fn bench_decoding(c: &mut Criterion) {
    let deltas = deltas();
    let refs: Vec<&str> = deltas.iter().map(String::as_str).collect();
    let anthropic = wire::anthropic_stream(
        "claude-haiku-4-5",
        &refs,
        AnthropicUsage {
            input: 10,
            cache_write: 0,
            cache_read: 0,
            output: 2000,
        },
    );
    let openai = wire::openai_stream(
        "gpt-4o",
        &refs,
        Some(OpenAiUsage {
            prompt: 10,
            completion: 2000,
            cached: 0,
        }),
    );
    let mut group = c.benchmark_group("decode_2000_deltas");
    group.throughput(Throughput::Bytes(anthropic.len() as u64));
    group.bench_function("anthropic_1400B_chunks", |b| {
        b.iter(|| decode_all::<AnthropicDecoder>(anthropic.as_bytes(), 1400))
    });
    group.throughput(Throughput::Bytes(openai.len() as u64));
    group.bench_function("openai_1400B_chunks", |b| {
        b.iter(|| decode_all::<OpenAiDecoder>(openai.as_bytes(), 1400))
    });
    group.finish();
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "claude-haiku-4-5".into(),
        system: "You are a warm GROW coach.".repeat(40),
        messages: vec![
            ChatMessage::user("I want to change careers."),
            ChatMessage::assistant("What draws you to a change?"),
            ChatMessage::user("I feel stuck and bored."),
        ],
        max_tokens: 800,
        temperature: None,
        cache_prompt: true,
        structured: None,
    }
}

fn bench_calls(c: &mut Criterion) {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    else {
        return;
    };
    let short = ["Hello", ", what", " feels", " most", " stuck?"];
    let anthropic_reply = Reply::sse(&wire::anthropic_stream(
        "claude-haiku-4-5",
        &short,
        AnthropicUsage {
            input: 25,
            cache_write: 0,
            cache_read: 1200,
            output: 9,
        },
    ))
    .pieces_of(256)
    .delay(Duration::ZERO);
    let openai_reply = Reply::sse(&wire::openai_stream("gpt-4o", &short, None))
        .pieces_of(256)
        .delay(Duration::ZERO);
    let (a_server, o_server) = rt.block_on(async {
        (
            FakeServer::start_repeating(anthropic_reply).await,
            FakeServer::start_repeating(openai_reply).await,
        )
    });
    let anthropic = AnthropicClient::new(AnthropicConfig {
        base_url: a_server.url(),
        api_key: Secret::new("bench-key"),
        version: "2023-06-01".into(),
        timeouts: Timeouts::default(),
    })
    .map(Provider::Anthropic);
    let openai = OpenAiCompatClient::new(OpenAiCompatConfig {
        name: "local".into(),
        base_url: format!("{}/v1", o_server.url()),
        api_key: None,
        timeouts: Timeouts::default(),
        output_limit: OutputLimitField::MaxTokens,
    })
    .map(Provider::OpenAiCompat);
    let (Ok(anthropic), Ok(openai)) = (anthropic, openai) else {
        return;
    };
    let req = request();
    let mut group = c.benchmark_group("streamed_call_local_server");
    for (name, provider) in [("anthropic", &anthropic), ("openai_compat", &openai)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let mut chars = 0;
                    provider
                        .stream(&req, &mut |d: &str| chars += d.len())
                        .await
                        .map(|done| done.text.len() + chars)
                        .unwrap_or(0)
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decoding, bench_calls);
criterion_main!(benches);
