//! What taking an exam costs on the dev server (embedded store, rate limits off), over real HTTP on localhost:
//! starting a timed exam of 10 questions drawn from a course of 120 approved, answering each, and submitting it.
//!
//! Run with `cargo bench -p lectern-e2e --bench exams`. Without `--bench` (as under `cargo test --all-targets`)
//! it only says so and exits.

use lectern_e2e::api::Api;
use lectern_e2e::bench::{Stats, header, timed};
use lectern_e2e::exams::{
    Cast, answer, approved_questions, course, right_response, start_exam, submit_exam,
};
use serde_json::json;

const EXAMS: usize = 40;
const QUESTIONS: usize = 10;

async fn run() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 2).await;
    for topic in &built.topics {
        approved_questions(
            &api,
            &cast,
            topic,
            &[("easy", 20), ("medium", 20), ("hard", 20)],
        )
        .await;
    }
    let (mut start, mut answering, mut submit) = (
        Stats::new("POST /v1/exams/start"),
        Stats::new("POST /v1/exams/{id}/answer"),
        Stats::new("POST /v1/exams/{id}/submit"),
    );
    let body = json!({
        "mode": "timed", "source": {"course": built.course}, "count": QUESTIONS, "mix": "easy:30,medium:50,hard:20",
        "time_limit_seconds": 3600,
    });
    for _ in 0..EXAMS {
        let exam = timed(&mut start, start_exam(&api, &cast.learner, body.clone()))
            .await
            .expect_status(201)
            .body;
        let exam_id = exam["exam_id"].as_str().expect("exam id");
        for item in exam["items"].as_array().expect("items") {
            let q = &item["question"];
            let id = q["question_id"].as_str().expect("question id");
            timed(
                &mut answering,
                answer(&api, &cast.learner, exam_id, id, right_response(q)),
            )
            .await
            .expect_status(200);
        }
        timed(&mut submit, submit_exam(&api, &cast.learner, exam_id))
            .await
            .expect_status(200);
    }
    api.stop().await;
    println!(
        "{EXAMS} exams of {QUESTIONS} questions drawn from {} approved",
        60 * built.topics.len()
    );
    println!("{}", header());
    for mut stats in [start, answering, submit] {
        println!("{}", stats.row());
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("benchmark: run with `cargo bench -p lectern-e2e --bench exams`");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}
