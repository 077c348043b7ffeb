//! Per-turn cost of configuration-driven interactions with a warm cache: take the live
//! snapshot, resolve (interaction, tier), build the prompt context and render the template.
//! Target: median under 50 µs. Run: `cargo bench --bench interactions`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};
use grow::catalog::Catalog;
use grow::coach::interactions::{Interaction, UserTier};
use grow::coach::reload::{LiveInteractions, ReloadSources};
use grow::coach::templates::PromptContext;

const PROFILE: &str = "Sam is a 34-year-old product designer at a mid-sized fintech company who \
wants to move into a design management role within the next eighteen months. The goal matters \
now because a lead position is opening on the team and Sam feels ready but unsure how to show \
it. Sam works long hours, has a young child, and has limited energy in the evenings, so change \
has to fit into the working day. In the past Sam tried a leadership course and a reading plan; \
both faded after a few weeks when deadlines piled up, and Sam tends to drop goals quietly after \
a missed week rather than restart. Sam values craft, honesty and fairness, and will not trade \
time with family for a promotion. Sam prefers a coach who is direct but kind, asks challenging \
questions, keeps sessions short, and checks in weekly on small, concrete commitments. Sam wants \
to be coached in English, with occasional Chinese phrases when talking about family.";

fn context(today: NaiveDate) -> PromptContext {
    let mut metrics = BTreeMap::new();
    metrics.insert("logging_consistency".to_string(), serde_json::json!(0.71));
    metrics.insert("commitment_adherence".to_string(), serde_json::json!(0.55));
    metrics.insert("current_streak_days".to_string(), serde_json::json!(3));
    metrics.insert("best_streak_days".to_string(), serde_json::json!(12));
    metrics.insert("misses_cluster".to_string(), serde_json::json!("weekends"));
    PromptContext::new("English", today)
        .with_name("Sam")
        .with_profile(PROFILE)
        .with_metrics(metrics)
}

fn bench(c: &mut Criterion) {
    let catalog = Arc::new(Catalog::builtin().expect("catalog"));
    let live = LiveInteractions::new(catalog, ReloadSources::default()).expect("config");
    let today = NaiveDate::from_ymd_opt(2026, 11, 21).expect("date");
    let personal_prompt = PROFILE.repeat(4); // ~700 words, like a generated persona
    let warm = context(today);
    live.current()
        .prepare(Interaction::CoachingResponse, UserTier::Premium, &warm)
        .expect("renders");

    c.bench_function("resolve", |b| {
        let snap = live.current();
        b.iter(|| {
            snap.resolve(
                black_box(Interaction::CoachingResponse),
                black_box(UserTier::Premium),
            )
        })
    });

    c.bench_function("turn_generic_prompt", |b| {
        b.iter(|| {
            let ctx = context(today);
            let snap = live.current();
            snap.prepare(
                black_box(Interaction::CoachingResponse),
                black_box(UserTier::Premium),
                &ctx,
            )
            .expect("renders")
        })
    });

    c.bench_function("turn_personal_prompt", |b| {
        b.iter(|| {
            let ctx = context(today).with_param("personal_prompt", personal_prompt.as_str());
            let snap = live.current();
            let resolved = snap.resolve(Interaction::CoachingResponse, UserTier::Standard);
            snap.render(black_box("coaching_personal"), &ctx)
                .map(|prompt| (resolved, prompt))
                .expect("renders")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
