//! Certificates on the dev server: a passed certifying exam yields one certificate (however often its job runs),
//! which its owner reads (JSON and PDF) and nobody else does, which verifies offline with only the published key
//! and the canonical form (and not once any field is changed), which anyone verifies publicly seeing only what the
//! learner shares, and which an admin revokes, audited; a failed one regraded to a pass earns its certificate.

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use lectern_e2e::api::{Api, Body, assert_problem, assert_validation};
use lectern_e2e::exams::{
    Cast, approved_question, approved_questions, course, grade, issued_certificate,
    pass_certifying_exam, question, right_response, sit_exam, start_exam, wrong_response,
};
use reqwest::Method;
use serde_json::{Value, json};

/// The canonical form rebuilt from a certificate's fields, as an offline verifier would: RFC 8785, which for
/// these values is compact JSON with sorted keys (serde_json's map sorts them).
pub(crate) fn canonical(fields: &Value) -> String {
    let mut form = serde_json::Map::new();
    for key in [
        "certificate_id",
        "course_id",
        "course_name",
        "issued_on",
        "learner_name",
        "score_percent",
    ] {
        form.insert(key.into(), fields[key].clone());
    }
    form.insert("kid".into(), fields["signature"]["kid"].clone());
    form.insert("v".into(), json!(1));
    serde_json::to_string(&Value::Object(form)).unwrap()
}

/// Whether `signature` (base64url) is valid for `text` under the published key `x` (base64url).
pub(crate) fn verifies(x: &str, text: &str, signature: &str) -> bool {
    let key: [u8; 32] = URL_SAFE_NO_PAD.decode(x).unwrap().try_into().unwrap();
    let key = VerifyingKey::from_bytes(&key).unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    key.verify_strict(text.as_bytes(), &signature).is_ok()
}

struct Names;

#[async_trait]
impl lectern_exams::certificates::LearnerNames for Names {
    async fn display_name(&self, _: &str) -> Result<Option<String>, String> {
        Ok(Some("Somebody Else".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_certifying_exam_yields_one_certificate_that_verifies_offline_and_publicly() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 200, 1).await;
    approved_questions(&api, &cast, &built.topics[0], &[("easy", 3)]).await;
    let learner = &cast.learner;
    let exam_id = pass_certifying_exam(&api, learner, &built.course, 3).await;

    let certificate = issued_certificate(&api, learner, &exam_id).await;
    let name = api.me(&learner.access).await.expect_status(200).body["display_name"].clone();
    assert_eq!(certificate["certificate_id"], exam_id.as_str());
    assert_eq!(certificate["learner_name"], name);
    assert_eq!(certificate["course_id"], built.course.as_str());
    assert_eq!(certificate["course_name"], "Algebra");
    assert_eq!(certificate["score_percent"], 100);
    assert_eq!(certificate["status"], "valid");
    assert_eq!(certificate["signature"]["alg"], "EdDSA");
    assert_eq!(certificate["issued_on"].as_str().unwrap().len(), 10);

    // Nobody else reaches it, nor changes what it shares.
    let path = format!("/v1/certificates/{exam_id}");
    let other = &cast.other_learner;
    assert_problem(&api.get(&path, Some(&other.access)).await, 404, "not-found");
    let theirs = api
        .send(
            Method::PATCH,
            &path,
            (&other.access).into(),
            Body::Json(json!({"share_name": true})),
        )
        .await;
    assert_problem(&theirs, 404, "not-found");
    assert_eq!(api.get(&path, None).await.status, 401);

    // Offline: the published key and the canonical form rebuilt from the fields are all it takes.
    let published = api
        .get("/v1/certificates/public-key", None)
        .await
        .expect_status(200)
        .body;
    let kid = certificate["signature"]["kid"].as_str().unwrap();
    let key = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the signing key is published");
    assert_eq!(
        (key["kty"].clone(), key["crv"].clone()),
        (json!("OKP"), json!("Ed25519"))
    );
    let x = key["x"].as_str().unwrap();
    let signature = certificate["signature"]["value"].as_str().unwrap();
    let text = canonical(&certificate);
    assert_eq!(text, certificate["canonical"].as_str().unwrap());
    assert!(verifies(x, &text, signature), "the certificate verifies");
    // Changing any field it states breaks the signature.
    for (field, forged) in [
        ("certificate_id", json!("01JF0RGED00000000000000000")),
        ("course_id", json!("01JF0RGED00000000000000000")),
        ("course_name", json!("Advanced Algebra")),
        ("issued_on", json!("1999-12-31")),
        ("learner_name", json!("Mallory")),
        ("score_percent", json!(99)),
    ] {
        let mut tampered = certificate.clone();
        tampered[field] = forged;
        assert!(
            !verifies(x, &canonical(&tampered), signature),
            "a changed {field} still verifies"
        );
    }
    let mut other_key = certificate.clone();
    other_key["signature"]["kid"] = json!("k-other");
    assert!(
        !verifies(x, &canonical(&other_key), signature),
        "a changed kid"
    );

    // Publicly, without signing in: valid, the course and the date only, until the learner shares more.
    let verify = format!("/v1/certificates/{exam_id}/verify");
    let public = api.get(&verify, None).await.expect_status(200).body;
    assert_eq!(public["status"], "valid");
    assert_eq!(public["course_name"], "Algebra");
    assert_eq!(public["issued_on"], certificate["issued_on"]);
    assert!(
        public["learner_name"].is_null() && public["score_percent"].is_null(),
        "{public}"
    );
    let shared = api
        .send(
            Method::PATCH,
            &path,
            (&learner.access).into(),
            Body::Json(json!({"share_name": true, "share_score": true})),
        )
        .await
        .expect_status(200)
        .body;
    assert_eq!(
        (shared["share_name"].clone(), shared["share_score"].clone()),
        (json!(true), json!(true))
    );
    let public = api.get(&verify, None).await.expect_status(200).body;
    assert_eq!(public["learner_name"], name);
    assert_eq!(public["score_percent"], 100);
    let nothing = api
        .send(
            Method::PATCH,
            &path,
            (&learner.access).into(),
            Body::Json(json!({})),
        )
        .await;
    assert_validation(&nothing, "share_name");
    let unknown = api
        .get("/v1/certificates/01JNKN0WN00000000000000000/verify", None)
        .await
        .expect_status(200)
        .body;
    assert_eq!(unknown["status"], "unknown");
    assert!(unknown["course_name"].is_null());

    // The PDF.
    let pdf = api
        .http
        .get(api.url(&path))
        .bearer_auth(&learner.access)
        .header("accept", "application/pdf")
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    assert!(
        bytes.windows(7).any(|w| w == b"Algebra"),
        "the course is on the page"
    );

    // A redelivered or raced job issues nothing more: the first certificate stands, signature and name.
    let exams = lectern_exams::Exams::new(api.server.platform.clone());
    let again = exams
        .issue_certificate(&exam_id, &Names)
        .await
        .unwrap()
        .expect("issued");
    assert_eq!(again.signature, signature);
    assert_eq!(json!(again.learner_name), name);

    // Revocation: admins only, with a reason, audited; verification says so from then on.
    let revoke = format!("/v1/admin/certificates/{exam_id}/revoke");
    let reason = json!({"reason": "sat by someone else"});
    for who in [learner, &cast.instructor, &cast.moderator] {
        assert_problem(
            &api.post(&revoke, Some(&who.access), reason.clone()).await,
            403,
            "forbidden",
        );
    }
    assert_validation(
        &api.post(&revoke, Some(&cast.admin.access), json!({"reason": "  "}))
            .await,
        "reason",
    );
    assert_problem(
        &api.post(
            "/v1/admin/certificates/01JNKN0WN00000000000000000/revoke",
            Some(&cast.admin.access),
            reason.clone(),
        )
        .await,
        404,
        "not-found",
    );
    let revoked = api
        .post(&revoke, Some(&cast.admin.access), reason.clone())
        .await
        .expect_status(200)
        .body;
    assert_eq!(revoked["status"], "revoked");
    assert_problem(
        &api.post(&revoke, Some(&cast.admin.access), reason).await,
        409,
        "invalid-state",
    );
    let public = api.get(&verify, None).await.expect_status(200).body;
    assert_eq!(public["status"], "revoked");
    assert!(public["revoked_at"].is_i64());
    let events = api
        .audit_logs(&cast.admin.access, "action=certificate_revoked")
        .await
        .expect_status(200);
    let event = events.event("certificate_revoked");
    assert_eq!(event["target_id"], learner.user_id.as_str());
    assert_eq!(event["actor_id"], cast.admin.user_id.as_str());
    assert_eq!(event["details"]["certificate_id"], exam_id.as_str());
    assert_eq!(event["details"]["reason"], "sat by someone else");
    // The owner still reads it, revoked.
    let mine = api
        .get(&path, Some(&learner.access))
        .await
        .expect_status(200)
        .body;
    assert_eq!(mine["status"], "revoked");
    assert_eq!(mine["revocation_reason"], "sat by someone else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_passed_timed_exam_drawn_from_a_course_certifies() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let ids = approved_questions(&api, &cast, &built.topics[0], &[("easy", 2)]).await;
    let learner = &cast.learner;
    let practice = json!({"mode": "practice", "source": {"course": built.course}, "count": 2, "certifying": true});
    assert_validation(&start_exam(&api, learner, practice).await, "certifying");
    let listed = json!({"mode": "timed", "source": {"questions": ids}, "time_limit_seconds": 600, "certifying": true});
    assert_validation(&start_exam(&api, learner, listed).await, "certifying");

    // A certifying exam failed: no certificate, once its result has been taken in.
    let body = json!({"mode": "timed", "source": {"course": built.course}, "count": 2,
        "time_limit_seconds": 600, "certifying": true, "pass_mark": 60});
    let (exam_id, done) = sit_exam(&api, learner, body, wrong_response).await;
    let exam_id = exam_id.as_str();
    assert_eq!(done["result"]["passed"], false);
    let instructor = Some(cast.instructor.access.as_str());
    let taken_in = lectern_e2e::eventually(async || {
        api.get(&format!("/v1/questions/{}/stats", ids[0]), instructor)
            .await
            .body["attempts"]
            == 1
    })
    .await;
    assert!(taken_in, "the statistics job ran");
    assert_problem(
        &api.get(
            &format!("/v1/certificates/{exam_id}"),
            Some(&learner.access),
        )
        .await,
        404,
        "not-found",
    );
    let public = api
        .get(&format!("/v1/certificates/{exam_id}/verify"), None)
        .await
        .expect_status(200)
        .body;
    assert_eq!(public["status"], "unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certifying_exam_regraded_to_a_pass_earns_its_certificate() {
    let api = Api::start().await;
    let cast = Cast::on(&api).await;
    let built = course(&api, &cast.instructor, 100, 1).await;
    let topic = &built.topics[0];
    let essay = approved_question(&api, &cast, question(topic, "essay", "easy")).await;
    approved_question(&api, &cast, question(topic, "true_false", "easy")).await;
    let learner = &cast.learner;
    let body = json!({"mode": "timed", "source": {"course": built.course}, "count": 2,
        "time_limit_seconds": 600, "certifying": true, "pass_mark": 100});
    let (exam_id, _) = sit_exam(&api, learner, body, right_response).await;
    let exam_id = exam_id.as_str();
    let grader = &cast.instructor;
    let failed = grade(&api, grader, exam_id, &essay, 0.5)
        .await
        .expect_status(200)
        .body;
    assert_eq!(failed["result"]["passed"], false, "{failed}");
    // Once its result has been taken in, still no certificate.
    let instructor = Some(grader.access.as_str());
    let taken_in = lectern_e2e::eventually(async || {
        api.get(&format!("/v1/questions/{essay}/stats"), instructor)
            .await
            .body["attempts"]
            == 1
    })
    .await;
    assert!(taken_in, "the statistics job ran");
    let path = format!("/v1/certificates/{exam_id}");
    assert_problem(
        &api.get(&path, Some(&learner.access)).await,
        404,
        "not-found",
    );

    // Regraded to a pass: the certificate follows, with the score that passed.
    let passed = grade(&api, grader, exam_id, &essay, 1.0)
        .await
        .expect_status(200)
        .body;
    assert_eq!(passed["result"]["passed"], true, "{passed}");
    let certificate = issued_certificate(&api, learner, exam_id).await;
    assert_eq!(certificate["score_percent"], 100);
    let public = api
        .get(&format!("{path}/verify"), None)
        .await
        .expect_status(200)
        .body;
    assert_eq!(public["status"], "valid");
}
