//! Speed of the deterministic detectors: `cargo bench --bench signals`.
//! Budget: the whole routing decision has a 10 µs median for a 2 KB message; `detect` should
//! take a few µs of that.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use grow::routing::lexicon::Lexicon;
use grow::routing::signals::detect;
use grow::routing::tokens::estimate_tokens;
use grow::routing::types::{EscalationRisk, SignalContext};

/// A realistic long message of about `bytes` bytes: a reflective coaching message that mixes
/// routine detail with a few cues, repeated to length on sentence boundaries.
fn message(sentences: &[&str], bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 200);
    for s in sentences.iter().cycle() {
        if out.len() + s.len() > bytes {
            break;
        }
        out.push_str(s);
        out.push(' ');
    }
    out
}

const EN: &[&str] = &[
    "This week I managed to go to the gym twice and I finished the quarterly report on time.",
    "My manager hinted at a promotion, but part of me wants to go back to hands-on work.",
    "I keep going back and forth between staying in this role and moving to a smaller company.",
    "Honestly I'm a bit tired, though the walks in the evening help a lot.",
    "I want to think about where I'd like to be in five years, not just next quarter.",
    "Every time a big opportunity shows up I seem to find a reason to put it off.",
    "Anyway, for tomorrow I'd like to plan three priorities and a short review on Friday.",
];

const ZH: &[&str] = &[
    "这周去了两次健身房，季度报告也按时写完了。",
    "领导暗示可能会升职，但我有一部分想回去做具体的工作。",
    "我一直在纠结是留在现在的岗位还是去一家小公司。",
    "说实话有点累，不过晚上散步帮助很大。",
    "我想想五年后想成为什么样的人，而不只是下个季度。",
    "每次有大机会出现，我总能找到理由拖延。",
    "明天想定三个优先事项，周五做个简短的复盘。",
];

fn bench_detect(c: &mut Criterion) {
    let lexicon = match Lexicon::builtin() {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    let en = message(EN, 2048);
    let zh = message(ZH, 2048);
    let ctx = |m: &'static str| SignalContext {
        message: m,
        prior_turns: 1000,
        escalation_risk: EscalationRisk::Low,
        long_context_turns: 40,
    };
    let en: &'static str = Box::leak(en.into_boxed_str());
    let zh: &'static str = Box::leak(zh.into_boxed_str());

    c.bench_function("detect 2KB message", |b| {
        b.iter(|| detect(black_box(&lexicon), black_box(&ctx(en))))
    });
    c.bench_function("detect 2KB message (zh)", |b| {
        b.iter(|| detect(black_box(&lexicon), black_box(&ctx(zh))))
    });
    c.bench_function("estimate_tokens 2KB", |b| {
        b.iter(|| estimate_tokens(black_box(en)) + estimate_tokens(black_box(zh)))
    });
}

/// Start-up cost of the lexicon: parse, validate and compile `assets/signals.toml`.
fn bench_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("lexicon");
    group.sample_size(20);
    group.bench_function("load and compile assets/signals.toml", |b| {
        b.iter(|| Lexicon::builtin().map(|l| l.pattern_count()))
    });
    group.finish();
}

criterion_group!(benches, bench_detect, bench_load);
criterion_main!(benches);
