//! Exams on the dev server: practice with immediate marks, a timed sequential exam that the deadline submits, the
//! deadline job for abandoned exams, scores for every type, essays graded by an instructor, idempotent and racing
//! answers and submits, history, and another learner reaching none of it.

use std::time::Duration;

use lectern_e2e::api::{Api, Body, assert_problem, assert_validation};
use lectern_e2e::exams::{
    Cast, TYPES, answer, approved_question, approved_questions, course, create_question, question,
    right_response, start_exam, submit_exam, wrong_response,
};
use reqwest::Method;
use serde_json::{Value, json};

/// The items of an exam view, by position.
fn items(view: &Value) -> Vec<Value> {
    view["items"].as_array().expect("items").clone()
}

fn qid(item: &Value) -> String {
    item["question"]["question_id"]
        .as_str()
        .expect("a shown question")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_exam_marks_each_answer_at_once_and_scores_every_type() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 200, 2).await;
    let mut ids = Vec::new();
    for (i, kind) in TYPES.iter().enumerate() {
        let topic = &built.topics[i % 2];
        ids.push(approved_question(&api, &cast, question(topic, kind, "medium")).await);
    }
    let started = start_exam(
        &api,
        &cast.learner,
        json!({"mode": "practice", "source": {"questions": ids}, "shuffle_questions": false, "pass_mark": 60}),
    )
    .await
    .expect_status(201)
    .body;
    let exam_id = started["exam_id"].as_str().unwrap().to_string();
    assert_eq!(started["status"], "in_progress");
    assert_eq!(started["count"], 6);
    for item in items(&started) {
        let q = &item["question"];
        assert!(
            q.get("answer_key").is_none() && q.get("explanation").is_none(),
            "leaked before answering: {q}"
        );
    }

    // Right answers to the first three types, wrong to numeric and short text, and an essay.
    let mut expected_marks = Vec::new();
    for item in items(&started) {
        let q = &item["question"];
        let kind = q["type"].as_str().unwrap();
        let (response, mark) = match kind {
            "numeric" | "short_text" => (wrong_response(q), Some(0.0)),
            "essay" => (right_response(q), None),
            _ => (right_response(q), Some(1.0)),
        };
        let reply = answer(&api, &cast.learner, &exam_id, &qid(&item), response.clone())
            .await
            .expect_status(200);
        let marked = &reply.body["item"];
        assert_eq!(marked["mark"].as_f64(), mark, "{kind}: {reply}");
        if kind != "essay" {
            assert!(
                marked["question"]["answer_key"].is_object(),
                "practice shows what was right: {reply}"
            );
        }
        assert!(
            marked["question"].get("explanation").is_none(),
            "free tier: the explanation waits for submit"
        );
        // The same answer again is a retry; another one is refused (the learner has seen what was right).
        let again = answer(&api, &cast.learner, &exam_id, &qid(&item), response.clone())
            .await
            .expect_status(200);
        assert_eq!(again.body["item"], reply.body["item"]);
        assert_eq!(
            again.body["answered"], reply.body["answered"],
            "counted once"
        );
        let other = if response == right_response(q) {
            wrong_response(q)
        } else {
            right_response(q)
        };
        if kind != "essay" {
            assert_problem(
                &answer(&api, &cast.learner, &exam_id, &qid(&item), other).await,
                409,
                "already-answered",
            );
        }
        expected_marks.push(mark);
    }

    // Another learner reaches none of it, and cannot grade.
    let other = &cast.other_learner;
    assert_problem(
        &api.get(&format!("/v1/exams/{exam_id}"), Some(&other.access))
            .await,
        404,
        "not-found",
    );
    assert_problem(&submit_exam(&api, other, &exam_id).await, 404, "not-found");
    let q0 = qid(&items(&started)[0]);
    assert_problem(
        &answer(
            &api,
            other,
            &exam_id,
            &q0,
            json!({"type": "true_false", "value": true}),
        )
        .await,
        404,
        "not-found",
    );
    assert_problem(
        &api.get(&format!("/v1/exams/{exam_id}/summary"), Some(&other.access))
            .await,
        404,
        "not-found",
    );
    let summary_early = api
        .get(
            &format!("/v1/exams/{exam_id}/summary"),
            Some(&cast.learner.access),
        )
        .await;
    assert_problem(&summary_early, 409, "invalid-state");

    // Submitting twice at once leaves one result.
    let (a, b) = tokio::join!(
        submit_exam(&api, &cast.learner, &exam_id),
        submit_exam(&api, &cast.learner, &exam_id)
    );
    let (a, b) = (a.expect_status(200), b.expect_status(200));
    assert_eq!(a.body["result"], b.body["result"]);
    let result = &a.body["result"];
    assert_eq!(
        a.body["status"], "grading",
        "the essay waits for an instructor"
    );
    assert_eq!(result["score"].as_f64(), Some(3.0), "{result}");
    assert_eq!(result["max_score"].as_f64(), Some(6.0));
    assert_eq!(
        result["passed"],
        Value::Null,
        "no verdict while an essay is ungraded"
    );
    assert_eq!(result["submitted_by"], "learner");
    assert_problem(
        &answer(
            &api,
            &cast.learner,
            &exam_id,
            &q0,
            json!({"type": "true_false", "value": true}),
        )
        .await,
        409,
        "exam-submitted",
    );

    let summary = api
        .get(
            &format!("/v1/exams/{exam_id}/summary"),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200)
        .body;
    for (item, mark) in items(&summary).iter().zip(&expected_marks) {
        assert_eq!(item["mark"].as_f64(), *mark, "{item}");
        assert!(
            item["question"]["explanation"].is_string(),
            "after submitting, the explanation: {item}"
        );
        assert!(item["question"]["answer_key"].is_object());
    }
    let topics = summary["topics"].as_array().unwrap();
    assert_eq!(topics.len(), 2);
    assert_eq!(
        topics
            .iter()
            .map(|t| t["questions"].as_u64().unwrap())
            .sum::<u64>(),
        6
    );
    assert_eq!(
        topics
            .iter()
            .map(|t| t["score"].as_f64().unwrap())
            .sum::<f64>(),
        3.0
    );

    // An instructor grades the essay: the result becomes final.
    let essay = items(&summary)
        .into_iter()
        .find(|i| i["question"]["type"] == "essay")
        .unwrap();
    let grade = json!({"grades": [{"question_id": qid(&essay), "mark": 0.75, "feedback": "Good balance."}]});
    let path = format!("/v1/exams/{exam_id}/grade");
    assert_problem(
        &api.post(&path, Some(&cast.learner.access), grade.clone())
            .await,
        403,
        "forbidden",
    );
    let not_essay = json!({"grades": [{"question_id": q0, "mark": 1}]});
    assert_validation(
        &api.post(&path, Some(&cast.instructor.access), not_essay)
            .await,
        "grades[0].question_id",
    );
    let bad_mark = json!({"grades": [{"question_id": qid(&essay), "mark": 1.5}]});
    assert_problem(
        &api.post(&path, Some(&cast.instructor.access), bad_mark)
            .await,
        400,
        "validation",
    );
    let graded = api
        .post(&path, Some(&cast.instructor.access), grade)
        .await
        .expect_status(200)
        .body;
    assert_eq!(graded["status"], "completed");
    assert_eq!(graded["result"]["score"].as_f64(), Some(3.75));
    assert_eq!(
        graded["result"]["passed"], true,
        "62.5% against a pass mark of 60"
    );
    let mine = api
        .get(
            &format!("/v1/exams/{exam_id}/summary"),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200)
        .body;
    let essay_now = items(&mine)
        .into_iter()
        .find(|i| i["question"]["type"] == "essay")
        .unwrap();
    assert_eq!(
        (essay_now["mark"].as_f64(), essay_now["feedback"].as_str()),
        (Some(0.75), Some("Good balance."))
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_sequential_exam_allows_no_going_back_and_ends_at_its_deadline() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    approved_questions(
        &api,
        &cast,
        &built.topics[0],
        &[("easy", 3), ("medium", 3), ("hard", 2)],
    )
    .await;
    let body = json!({
        "mode": "timed", "source": {"course": built.course}, "count": 5, "mix": "easy:40,medium:40,hard:20",
        "time_limit_seconds": 600, "navigation": "sequential", "pass_mark": 50,
    });
    let started = start_exam(&api, &cast.learner, body)
        .await
        .expect_status(201)
        .body;
    let exam_id = started["exam_id"].as_str().unwrap().to_string();
    let deadline = started["deadline"].as_i64().unwrap();
    assert_eq!(deadline - started["started_at"].as_i64().unwrap(), 600);
    assert_eq!(started["remaining_seconds"], 600);
    assert_eq!(started["current"], 0);
    let shown = items(&started);
    let difficulties: Vec<&str> = shown
        .iter()
        .filter_map(|i| i["question"]["difficulty"].as_str())
        .collect();
    assert_eq!(
        difficulties.len(),
        1,
        "a sequential exam shows the current question only: {started}"
    );
    assert!(shown[1..].iter().all(|i| i["question"].is_null()));

    // The server fixed the list: reading again shows the same first question; answers reveal nothing.
    let view = api
        .get(&format!("/v1/exams/{exam_id}"), Some(&cast.learner.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(view["items"][0], started["items"][0]);
    let first = items(&view)[0].clone();
    api.clock().advance(Duration::from_secs(30));
    let reply = answer(
        &api,
        &cast.learner,
        &exam_id,
        &qid(&first),
        right_response(&first["question"]),
    )
    .await
    .expect_status(200);
    let item = &reply.body["item"];
    assert!(
        item["mark"].is_null() && item["question"].get("answer_key").is_none(),
        "timed: nothing revealed: {item}"
    );
    assert_eq!(item["seconds"], 30, "time spent by the server's clock");
    // No going back: the first question's answer is final.
    assert_problem(
        &answer(
            &api,
            &cast.learner,
            &exam_id,
            &qid(&first),
            wrong_response(&first["question"]),
        )
        .await,
        409,
        "already-answered",
    );
    // Skipping ahead is refused too; the second question is now shown.
    let view = api
        .get(&format!("/v1/exams/{exam_id}"), Some(&cast.learner.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(view["current"], 1);
    let second = items(&view)[1].clone();
    assert!(second["question"].is_object() && items(&view)[2]["question"].is_null());
    answer(
        &api,
        &cast.learner,
        &exam_id,
        &qid(&second),
        right_response(&second["question"]),
    )
    .await
    .expect_status(200);

    // The clock passes the deadline: a late answer is refused and the exam is submitted as it stood.
    api.clock().advance(Duration::from_secs(600));
    let third = items(
        &api.get(&format!("/v1/exams/{exam_id}"), Some(&cast.learner.access))
            .await
            .body,
    )[2]
    .clone();
    assert!(
        third["question"].is_object(),
        "once submitted every question shows"
    );
    let late = answer(
        &api,
        &cast.learner,
        &exam_id,
        &qid(&third),
        right_response(&third["question"]),
    )
    .await;
    assert_problem(&late, 409, "exam-submitted");
    let summary = api
        .get(
            &format!("/v1/exams/{exam_id}/summary"),
            Some(&cast.learner.access),
        )
        .await
        .expect_status(200)
        .body;
    let result = &summary["result"];
    assert_eq!(result["submitted_by"], "deadline");
    assert_eq!(result["submitted_at"].as_i64(), Some(deadline));
    let marks: Vec<Option<f64>> = items(&summary).iter().map(|i| i["mark"].as_f64()).collect();
    let answered_marks: f64 = marks.iter().take(2).map(|m| m.unwrap_or(0.0)).sum();
    assert_eq!(
        marks[2..].to_vec(),
        vec![Some(0.0); 3],
        "unanswered questions score 0"
    );
    assert_eq!(result["score"].as_f64(), Some(answered_marks));
    // Submitting afterwards answers the deadline's result.
    let again = submit_exam(&api, &cast.learner, &exam_id)
        .await
        .expect_status(200)
        .body;
    assert_eq!(again["result"], summary["result"]);
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deadline_job_submits_abandoned_exams_and_late_answers_are_refused() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    approved_questions(&api, &cast, &built.topics[0], &[("medium", 4)]).await;
    let timed = |limit: u32| json!({"mode": "timed", "source": {"topics": [built.topics[0]]}, "count": 2, "time_limit_seconds": limit});
    let abandoned = start_exam(&api, &cast.learner, timed(60))
        .await
        .expect_status(201)
        .body;
    let later = start_exam(&api, &cast.other_learner, timed(3600))
        .await
        .expect_status(201)
        .body;
    let answer_to = items(&abandoned)[0].clone();
    api.clock().advance(Duration::from_secs(61));
    let submitted = lectern_exams_deadlines::run(&api.server.platform)
        .await
        .expect("the job runs");
    assert_eq!(submitted, 1, "only the overdue exam");
    assert_eq!(
        lectern_exams_deadlines::run(&api.server.platform)
            .await
            .unwrap(),
        0,
        "a second run finds nothing"
    );
    let history = api
        .get("/v1/exams/history", Some(&cast.learner.access))
        .await
        .expect_status(200);
    let rows = history.items();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["exam_id"], abandoned["exam_id"]);
    assert_eq!(rows[0]["status"], "completed");
    assert_eq!(rows[0]["result"]["submitted_by"], "deadline");
    let exam_id = abandoned["exam_id"].as_str().unwrap();
    let late = answer(
        &api,
        &cast.learner,
        exam_id,
        &qid(&answer_to),
        right_response(&answer_to["question"]),
    )
    .await;
    assert_problem(&late, 409, "exam-submitted");
    // The other learner's exam runs on, and their history is their own.
    let theirs = api
        .get("/v1/exams/history", Some(&cast.other_learner.access))
        .await
        .expect_status(200)
        .items();
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        (theirs[0]["exam_id"].clone(), theirs[0]["status"].clone()),
        (later["exam_id"].clone(), json!("in_progress"))
    );
    // An answer arriving after the deadline, before any job ran, submits the exam and is refused.
    api.clock().advance(Duration::from_secs(3600));
    let mut them = cast.other_learner.clone();
    them.access = api.fresh_access(&cast.other_learner).await;
    let theirs_id = later["exam_id"].as_str().unwrap();
    let item = items(&later)[0].clone();
    let late = answer(
        &api,
        &them,
        theirs_id,
        &qid(&item),
        right_response(&item["question"]),
    )
    .await;
    assert_problem(&late, 409, "deadline-passed");
    let view = api
        .get(&format!("/v1/exams/{theirs_id}"), Some(&them.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (
            view["status"].clone(),
            view["result"]["submitted_by"].clone()
        ),
        (json!("completed"), json!("deadline"))
    );
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_answers_all_count_and_a_free_timed_exam_takes_changed_answers() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let ids = approved_questions(&api, &cast, &built.topics[0], &[("easy", 6)]).await;
    let body = json!({"mode": "timed", "source": {"questions": ids}, "time_limit_seconds": 900, "shuffle_questions": false});
    let started = start_exam(&api, &cast.learner, body)
        .await
        .expect_status(201)
        .body;
    let exam_id = started["exam_id"].as_str().unwrap().to_string();
    let all = items(&started);
    let replies = futures_join(&api, &cast, &exam_id, &all).await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{reply}");
    }
    let view = api
        .get(&format!("/v1/exams/{exam_id}"), Some(&cast.learner.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(view["answered"], 6, "every concurrent answer counted once");
    // Free navigation in a timed exam: an answer may change until the exam is submitted.
    let first = &all[0];
    answer(
        &api,
        &cast.learner,
        &exam_id,
        &qid(first),
        wrong_response(&first["question"]),
    )
    .await
    .expect_status(200);
    let done = submit_exam(&api, &cast.learner, &exam_id)
        .await
        .expect_status(200)
        .body;
    assert_eq!(done["answered"], 6);
    // Questions 0..6 are single choice, multiple choice, true/false, numeric, short text, essay: all right but the
    // changed first one and the essay (ungraded).
    assert_eq!(done["result"]["score"].as_f64(), Some(4.0), "{done}");
    assert_eq!(done["result"]["pending_grading"], 1);
    api.stop().await;
}

/// Answers every item rightly, all at once.
async fn futures_join(
    api: &Api,
    cast: &Cast,
    exam_id: &str,
    all: &[Value],
) -> Vec<lectern_e2e::api::Reply> {
    let mut tasks = Vec::new();
    for item in all {
        let (api_base, token, exam_id) = (
            api.base.clone(),
            cast.learner.access.clone(),
            exam_id.to_string(),
        );
        let body = json!({"question_id": qid(item), "response": right_response(&item["question"])});
        tasks.push(tokio::spawn(async move {
            let client = lectern_e2e::api::Client::new(api_base);
            client
                .post(&format!("/v1/exams/{exam_id}/answer"), Some(&token), body)
                .await
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("task"));
    }
    replies
}

#[tokio::test]
async fn bad_starts_are_refused_plainly() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    let approved = approved_questions(&api, &cast, topic, &[("easy", 2)]).await;
    let draft = create_question(
        &api,
        &cast.instructor,
        question(topic, "true_false", "easy"),
    )
    .await;
    let draft_id = draft["question_id"].as_str().unwrap();
    let learner = &cast.learner;
    for (body, field) in [
        (
            json!({"mode": "timed", "source": {"course": built.course}, "count": 1}),
            "time_limit_seconds",
        ),
        (
            json!({"mode": "practice", "source": {"course": built.course}, "count": 1, "time_limit_seconds": 60}),
            "time_limit_seconds",
        ),
        (
            json!({"mode": "practice", "source": {"course": built.course, "topics": [topic]}, "count": 1}),
            "source",
        ),
        (
            json!({"mode": "practice", "source": {}, "count": 1}),
            "source",
        ),
        (
            json!({"mode": "practice", "source": {"course": built.course}}),
            "count",
        ),
        (
            json!({"mode": "practice", "source": {"questions": [approved[0], draft_id]}}),
            "source.questions[1]",
        ),
        (
            json!({"mode": "practice", "source": {"questions": [approved[0], approved[0]]}}),
            "source.questions[1]",
        ),
        (
            json!({"mode": "practice", "source": {"topics": [topic, topic]}, "count": 1}),
            "source.topics[1]",
        ),
        (
            json!({"mode": "practice", "source": {"course": built.course}, "count": 1, "mix": "easy:1,easy:1"}),
            "mix",
        ),
    ] {
        assert_validation(&start_exam(&api, learner, body).await, field);
    }
    for body in [
        json!({"mode": "exam", "source": {"course": built.course}, "count": 1}),
        json!({"mode": "practice", "source": {"course": built.course}, "count": 101}),
        json!({"mode": "timed", "source": {"course": built.course}, "count": 1, "time_limit_seconds": 59}),
        json!({"mode": "practice", "source": {"course": built.course}, "count": 1, "pass_mark": 101}),
        json!({"mode": "practice", "source": {"course": built.course}, "count": 1, "surprise": true}),
    ] {
        assert_problem(&start_exam(&api, learner, body).await, 400, "validation");
    }
    let too_many = json!({"mode": "practice", "source": {"course": built.course}, "count": 3});
    assert_problem(
        &start_exam(&api, learner, too_many).await,
        409,
        "not-enough-questions",
    );
    let no_hard = json!({"mode": "practice", "source": {"course": built.course}, "count": 1, "mix": "hard:1"});
    assert_problem(
        &start_exam(&api, learner, no_hard).await,
        409,
        "not-enough-questions",
    );
    let anonymous = api
        .send(
            Method::POST,
            "/v1/exams/start",
            None::<&str>.into(),
            Body::Json(json!({})),
        )
        .await;
    assert_eq!(anonymous.status, 401, "{anonymous}");
    // An API key, whatever its scopes, cannot take exams.
    let (key, _) = api
        .new_key(
            &learner.access,
            json!({"name": "script", "scopes": ["content:read"]}),
        )
        .await;
    let body = json!({"mode": "practice", "source": {"course": built.course}, "count": 1});
    let with_key = api
        .send(
            Method::POST,
            "/v1/exams/start",
            lectern_e2e::api::Auth::Key(&key),
            Body::Json(body),
        )
        .await;
    assert_problem(&with_key, 403, "forbidden");
    api.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_and_answers_racing_the_deadline_job_leave_one_result() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    approved_questions(&api, &cast, &built.topics[0], &[("easy", 3)]).await;
    let body = json!({"mode": "timed", "source": {"course": built.course}, "count": 3, "time_limit_seconds": 60});
    for _ in 0..3 {
        let exam = start_exam(&api, &cast.learner, body.clone())
            .await
            .expect_status(201)
            .body;
        let exam_id = exam["exam_id"].as_str().unwrap().to_string();
        let first = items(&exam)[0].clone();
        answer(
            &api,
            &cast.learner,
            &exam_id,
            &qid(&first),
            right_response(&first["question"]),
        )
        .await
        .expect_status(200);
        let late = items(&exam)[1].clone();
        let late_id = qid(&late);
        api.clock().advance(Duration::from_secs(61));
        let platform = api.server.platform.clone();
        let (job, submitted, answered) = tokio::join!(
            lectern_exams_deadlines::run(&platform),
            submit_exam(&api, &cast.learner, &exam_id),
            answer(
                &api,
                &cast.learner,
                &exam_id,
                &late_id,
                right_response(&late["question"])
            ),
        );
        assert!(job.expect("the job runs") <= 1);
        let submitted = submitted.expect_status(200).body;
        assert_eq!(
            submitted["result"]["submitted_by"], "deadline",
            "past the deadline, whoever submits"
        );
        assert_eq!(submitted["answered"], 1, "the late answer is not in it");
        assert_eq!(answered.status, 409, "{answered}");
        let summary = api
            .get(
                &format!("/v1/exams/{exam_id}/summary"),
                Some(&cast.learner.access),
            )
            .await
            .expect_status(200)
            .body;
        assert_eq!(summary["result"], submitted["result"], "one result");
    }
    api.stop().await;
}
