//! Helpers of the exams tests: the cast (admin, instructors, moderator, learners), a course built through the API,
//! and a question body of every type. The route helpers take any [`Client`]: the dev server's, or the API on moto.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Body, Client, Reply, Signed};

/// Everyone an exams test needs, signed in.
pub struct Cast {
    pub admin: Signed,
    pub instructor: Signed,
    /// Another instructor, for ownership checks.
    pub other_instructor: Signed,
    pub moderator: Signed,
    pub learner: Signed,
    /// Another learner, for ownership checks.
    pub other_learner: Signed,
}

impl Cast {
    pub async fn on(api: &Api) -> Self {
        let admin = api.admin("admin@example.com").await;
        Self {
            instructor: api
                .with_role(&admin, "instructor@example.com", "instructor")
                .await,
            other_instructor: api
                .with_role(&admin, "instructor2@example.com", "instructor")
                .await,
            moderator: api
                .with_role(&admin, "moderator@example.com", "moderator")
                .await,
            learner: api.signed_up("learner@example.com").await,
            other_learner: api.signed_up("learner2@example.com").await,
            admin,
        }
    }
}

/// A course built through the API: its chain of ancestors and its topics.
pub struct Course {
    pub institution: String,
    pub faculty: String,
    pub department: String,
    pub course: String,
    pub topics: Vec<String>,
}

/// `POST /v1/hierarchy/nodes`, asserting 201; answers the node id.
pub async fn node(api: &Client, author: &Signed, body: Value) -> String {
    api.post("/v1/hierarchy/nodes", Some(&author.access), body)
        .await
        .expect_status(201)
        .text("node_id")
}

/// Builds an institution → faculty → department → course (level `level`) → `topics` topics.
pub async fn course(api: &Client, author: &Signed, level: u16, topics: usize) -> Course {
    let institution = node(
        api,
        author,
        json!({"kind": "institution", "name": "Demo University"}),
    )
    .await;
    let faculty = node(
        api,
        author,
        json!({"kind": "faculty", "parent_id": institution, "name": "Science"}),
    )
    .await;
    let department = node(
        api,
        author,
        json!({"kind": "department", "parent_id": faculty, "name": "Mathematics"}),
    )
    .await;
    let course = node(
        api,
        author,
        json!({"kind": "course", "parent_id": department, "name": "Algebra", "code": "MTH 201", "level": level}),
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..topics {
        ids.push(
            node(
                api,
                author,
                json!({"kind": "topic", "parent_id": course, "name": format!("Topic {i}")}),
            )
            .await,
        );
    }
    Course {
        institution,
        faculty,
        department,
        course,
        topics: ids,
    }
}

/// The answer part of a question of each type (`type` as in the API).
pub fn answer_of(kind: &str) -> Value {
    match kind {
        "single_choice" => json!({"type": kind, "options": ["4", "5", "22"], "correct": [0]}),
        "multiple_choice" => {
            json!({"type": kind, "options": ["2", "3", "4", "9"], "correct": [0, 1]})
        }
        "true_false" => json!({"type": kind, "correct": true}),
        "numeric" => json!({"type": kind, "value": 9.81, "tolerance": 0.05}),
        "short_text" => json!({"type": kind, "accepted": ["Paris", "City of Light"]}),
        "essay" => json!({"type": kind, "rubric": "Argue both sides.", "max_words": 300}),
        other => panic!("no question type {other}"),
    }
}

/// Every question type.
pub const TYPES: [&str; 6] = [
    "single_choice",
    "multiple_choice",
    "true_false",
    "numeric",
    "short_text",
    "essay",
];

/// A question body of `kind` under `topic`.
pub fn question(topic: &str, kind: &str, difficulty: &str) -> Value {
    json!({
        "topic_id": topic,
        "stem": format!("<p>A {kind} question</p>"),
        "explanation": "<p>Because.</p>",
        "difficulty": difficulty,
        "subject": "algebra",
        "tags": ["demo", kind.replace('_', "-")],
        "answer": answer_of(kind),
    })
}

/// `POST /v1/questions`, asserting 201; answers the stored question.
pub async fn create_question(api: &Client, author: &Signed, body: Value) -> Value {
    api.post("/v1/questions", Some(&author.access), body)
        .await
        .expect_status(201)
        .body
}

/// Creates, submits and approves a question; answers its id.
pub async fn approved_question(api: &Client, cast: &Cast, body: Value) -> String {
    let id = create_question(api, &cast.instructor, body).await["question_id"]
        .as_str()
        .expect("id")
        .to_string();
    submit(api, &cast.instructor, &id).await.expect_status(200);
    let reply = api
        .post(
            "/v1/admin/questions/batch-approve",
            Some(&cast.moderator.access),
            json!({"ids": [id]}),
        )
        .await
        .expect_status(200);
    assert_eq!(reply.body["results"][0]["outcome"], "approved", "{reply}");
    id
}

/// Creates and submits `n` questions of each `(difficulty, n)` under `topic` (types in turn), then approves them all
/// in batches; answers their ids.
pub async fn approved_questions(
    api: &Client,
    cast: &Cast,
    topic: &str,
    counts: &[(&str, usize)],
) -> Vec<String> {
    let mut ids = Vec::new();
    for (difficulty, n) in counts {
        for i in 0..*n {
            let body = question(topic, TYPES[i % TYPES.len()], difficulty);
            let id = create_question(api, &cast.instructor, body).await["question_id"]
                .as_str()
                .expect("id")
                .to_string();
            submit(api, &cast.instructor, &id).await.expect_status(200);
            ids.push(id);
        }
    }
    for batch in ids.chunks(50) {
        let reply = api
            .post(
                "/v1/admin/questions/batch-approve",
                Some(&cast.moderator.access),
                json!({"ids": batch}),
            )
            .await
            .expect_status(200);
        for result in reply.body["results"].as_array().expect("results") {
            assert_eq!(result["outcome"], "approved", "{reply}");
        }
    }
    ids
}

/// `POST /v1/questions/{id}/submit`.
pub async fn submit(api: &Client, who: &Signed, id: &str) -> Reply {
    api.send(
        Method::POST,
        &format!("/v1/questions/{id}/submit"),
        (&who.access).into(),
        Body::Empty,
    )
    .await
}

/// `POST /v1/exams/start` as `who`.
pub async fn start_exam(api: &Client, who: &Signed, body: Value) -> Reply {
    api.post("/v1/exams/start", Some(&who.access), body).await
}

/// `POST /v1/exams/{id}/answer` as `who`.
pub async fn answer(
    api: &Client,
    who: &Signed,
    exam_id: &str,
    question_id: &str,
    response: Value,
) -> Reply {
    api.post(
        &format!("/v1/exams/{exam_id}/answer"),
        Some(&who.access),
        json!({"question_id": question_id, "response": response}),
    )
    .await
}

/// `POST /v1/exams/{id}/submit` as `who`.
pub async fn submit_exam(api: &Client, who: &Signed, exam_id: &str) -> Reply {
    api.send(
        Method::POST,
        &format!("/v1/exams/{exam_id}/submit"),
        (&who.access).into(),
        Body::Empty,
    )
    .await
}

/// The id of the option of a learner's view of a question whose text is `text`.
fn option(question: &Value, text: &str) -> String {
    question["options"]
        .as_array()
        .expect("options")
        .iter()
        .find(|o| o["text"] == text)
        .unwrap_or_else(|| panic!("no option {text} in {question}"))["id"]
        .as_str()
        .expect("option id")
        .to_string()
}

/// The right response to a question built by [`question`] (its learner view), or for an essay some text.
pub fn right_response(question: &Value) -> Value {
    match question["type"].as_str().expect("type") {
        kind @ "single_choice" => json!({"type": kind, "choice": option(question, "4")}),
        kind @ "multiple_choice" => {
            json!({"type": kind, "choices": [option(question, "2"), option(question, "3")]})
        }
        kind @ "true_false" => json!({"type": kind, "value": true}),
        kind @ "numeric" => json!({"type": kind, "value": 9.84}),
        kind @ "short_text" => json!({"type": kind, "text": "  city of   LIGHT "}),
        kind @ "essay" => json!({"type": kind, "text": "On the one hand; on the other."}),
        other => panic!("no question type {other}"),
    }
}

/// A wrong response to a question built by [`question`]: half right for multiple choice (one right option of two).
pub fn wrong_response(question: &Value) -> Value {
    match question["type"].as_str().expect("type") {
        kind @ "single_choice" => json!({"type": kind, "choice": option(question, "22")}),
        kind @ "multiple_choice" => json!({"type": kind, "choices": [option(question, "2")]}),
        kind @ "true_false" => json!({"type": kind, "value": false}),
        kind @ "numeric" => json!({"type": kind, "value": 9.9}),
        kind @ "short_text" => json!({"type": kind, "text": "Lyon"}),
        kind @ "essay" => json!({"type": kind, "text": "No."}),
        other => panic!("no question type {other}"),
    }
}

/// `POST /v1/exams/{id}/grade` as `who`: one essay's `mark`.
pub async fn grade(
    api: &Client,
    who: &Signed,
    exam_id: &str,
    question_id: &str,
    mark: f64,
) -> Reply {
    api.post(
        &format!("/v1/exams/{exam_id}/grade"),
        Some(&who.access),
        json!({"grades": [{"question_id": question_id, "mark": mark}]}),
    )
    .await
}

/// Starts an exam as `who` with `body`, answers every question with `respond` (e.g. [`right_response`]) and submits
/// it: answers the exam's id and the submit's answer (200 asserted).
pub async fn sit_exam(
    api: &Client,
    who: &Signed,
    body: Value,
    respond: fn(&Value) -> Value,
) -> (String, Value) {
    let exam = start_exam(api, who, body).await.expect_status(201).body;
    let exam_id = exam["exam_id"].as_str().expect("exam id").to_string();
    for item in exam["items"].as_array().expect("items") {
        let q = &item["question"];
        answer(
            api,
            who,
            &exam_id,
            q["question_id"].as_str().expect("question id"),
            respond(q),
        )
        .await
        .expect_status(200);
    }
    let done = submit_exam(api, who, &exam_id)
        .await
        .expect_status(200)
        .body;
    (exam_id, done)
}

/// A timed certifying exam drawn from `course` (`count` questions), every answer right, submitted: answers its id
/// (which is its certificate's id).
pub async fn pass_certifying_exam(
    api: &Client,
    who: &Signed,
    course: &str,
    count: usize,
) -> String {
    let body = json!({"mode": "timed", "source": {"course": course}, "count": count,
        "time_limit_seconds": 600, "certifying": true});
    let (exam_id, done) = sit_exam(api, who, body, right_response).await;
    assert_eq!(done["certifying"], true, "{done}");
    assert_eq!(done["result"]["passed"], true, "{done}");
    exam_id
}

/// `GET /v1/certificates/{id}` as `who`, once the jobs worker has issued it (it is issued moments after the result
/// is final); panics when it never comes.
pub async fn issued_certificate(api: &Client, who: &Signed, certificate_id: &str) -> Value {
    let path = format!("/v1/certificates/{certificate_id}");
    crate::poll(async || {
        let reply = api.get(&path, Some(&who.access)).await;
        (reply.status == 200).then_some(reply.body)
    })
    .await
    .expect("the certificate was never issued")
}

/// `POST /v1/assignments` by `author`, asserting 201; answers its id.
pub async fn create_assignment(api: &Client, author: &Signed, body: Value) -> String {
    api.post("/v1/assignments", Some(&author.access), body)
        .await
        .expect_status(201)
        .text("assignment_id")
}

/// Starts an attempt at an assignment.
pub async fn start_attempt(api: &Client, who: &Signed, assignment_id: &str) -> Reply {
    start_exam(
        api,
        who,
        json!({"mode": "assignment", "assignment_id": assignment_id}),
    )
    .await
}

/// An attempt started, `right` of its questions answered right (in exam order) and the others wrong, submitted:
/// answers the submitted exam.
pub async fn attempt(api: &Client, who: &Signed, assignment_id: &str, right: usize) -> Value {
    let exam = start_attempt(api, who, assignment_id)
        .await
        .expect_status(201)
        .body;
    let exam_id = exam["exam_id"].as_str().expect("exam id").to_string();
    for (i, item) in exam["items"].as_array().expect("items").iter().enumerate() {
        let q = &item["question"];
        let response = if i < right {
            right_response(q)
        } else {
            wrong_response(q)
        };
        answer(
            api,
            who,
            &exam_id,
            q["question_id"].as_str().expect("question id"),
            response,
        )
        .await
        .expect_status(200);
    }
    submit_exam(api, who, &exam_id)
        .await
        .expect_status(200)
        .body
}
