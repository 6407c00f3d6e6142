//! The operators' console: `GET /v1/admin/jobs` lists every scheduled job with its schedule and last run, for
//! holders of `operations:read` only, in a fixed number of round trips.

use lectern_e2e::api::{Api, assert_problem};
use lectern_shared::testing::counting::Summary;
use serde_json::{Value, json};

fn job<'a>(jobs: &'a Value, name: &str) -> &'a Value {
    jobs["jobs"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed: {jobs}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_see_every_scheduled_job_with_its_last_run() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let listed = api.admin_jobs(&admin.access).await.expect_status(200).body;
    let names: Vec<&str> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    for expected in [
        "housekeeping",
        "outbox-relay",
        "exam-deadlines",
        "reminders",
        "weekly-parent-reports",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert_eq!(job(&listed, "reminders")["schedule"], "cron(0 * * * ? *)");

    // A reminder is set, and the job runs: its run is recorded with what it counted.
    api.put_notification_preferences(
        &admin.access,
        json!({"channels": {}, "reminder": {"at": "08:00", "timezone": "UTC"}}),
    )
    .await
    .expect_status(200);
    let tick = api.run_reminders().await;
    let listed = api.admin_jobs(&admin.access).await.expect_status(200).body;
    let last = &job(&listed, "reminders")["last_run"];
    assert_eq!(last["outcome"], "succeeded", "{listed}");
    assert_eq!(last["counts"]["zones"], tick.zones);
    assert_eq!(last["counts"]["pages_enqueued"], tick.pages_enqueued);
    assert!(last["finished_at"].as_i64() >= last["started_at"].as_i64());
    assert!(job(&listed, "reminders")["running_since"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_read_the_jobs() {
    let api = Api::start().await;
    let parent = api.parent("parent@example.com").await;
    let reply = api.admin_jobs(&parent.access).await;
    assert_problem(&reply, 403, "forbidden");
    let reply = api.admin_jobs(None).await;
    assert_eq!(reply.status, 401, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_list_is_one_batched_read_after_authentication() {
    let api = Api::start().await;
    let admin = api.admin("budget@example.com").await;
    api.server.ops.reset();
    api.admin_jobs(&admin.access).await.expect_status(200);
    assert_eq!(
        api.server.ops.take().summary(),
        Summary {
            reads: 2,
            writes: 0,
            sends: 0,
            blobs: 0
        },
        "authentication (one batch) and the job states (one batch)"
    );
}

/// Sends a job no worker handles to the jobs queue and lets the dev server's poller fail it until it is
/// dead-lettered (the clock moves past each retry's backoff); answers its job id.
async fn dead_lettered_job(api: &Api) -> String {
    use lectern_shared::queue::{Job, NewJob, queues};
    let id = lectern_shared::ids::new_id();
    let job = NewJob {
        job: Job {
            id: id.clone(),
            kind: "test.unhandled".into(),
            payload: json!({"n": 1}),
            idempotency_key: None,
        },
        delay: std::time::Duration::ZERO,
    };
    let queue = api.server.platform.queue.clone();
    queue.send(queues::JOBS, vec![job]).await.unwrap();
    let dead = lectern_e2e::eventually(async || {
        api.clock().advance(std::time::Duration::from_secs(3600));
        queue.dead_letter_count(queues::JOBS).await.unwrap() == 1
    })
    .await;
    assert!(dead, "the job was dead-lettered");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_see_dead_letters_with_their_error_and_send_them_back() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let job_id = dead_lettered_job(&api).await;
    let admin_access = api.login(&admin.email).await.access;

    let listed = api
        .dead_letters(&admin_access, "")
        .await
        .expect_status(200)
        .body;
    let queues = listed["queues"].as_array().unwrap();
    assert_eq!(queues.len(), 3, "{listed}");
    let jobs = queues.iter().find(|q| q["queue"] == "jobs").unwrap();
    assert_eq!(jobs["count"], 1, "{listed}");
    let message = &jobs["messages"][0];
    assert_eq!(message["job_id"], job_id.as_str());
    assert_eq!(message["kind"], "test.unhandled");
    assert!(
        message["error"].as_str().unwrap().contains("no handler"),
        "{message}"
    );
    assert_eq!(jobs["oldest_failed_at"], message["failed_at"]);
    assert!(message.get("payload").is_none(), "payloads are never shown");
    for other in queues.iter().filter(|q| q["queue"] != "jobs") {
        assert_eq!(other["count"], 0, "{other}");
    }

    // One read for authentication, one count and one page of the queue, one batch read of the errors.
    api.server.ops.reset();
    api.dead_letters(&admin_access, "queue=jobs&limit=5")
        .await
        .expect_status(200);
    let ops = api.server.ops.take();
    assert_eq!(ops.summary().reads, 2, "{:?}", ops.names());
    assert_eq!(
        ops.names()
            .iter()
            .filter(|n| n.starts_with("queue."))
            .count(),
        2,
        "{:?}",
        ops.names()
    );

    let moved = api
        .redrive_dead_letters(&admin_access, json!({"queue": "jobs"}))
        .await
        .expect_status(200);
    assert_eq!(moved.body["moved"], 1);
    let listed = api
        .dead_letters(&admin_access, "queue=jobs")
        .await
        .expect_status(200)
        .body;
    assert_eq!(listed["queues"][0]["count"], 0, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_for_operators_and_check_their_input() {
    let api = Api::start().await;
    let admin = api.admin("admin@example.com").await;
    let parent = api.parent("parent@example.com").await;
    assert_problem(
        &api.dead_letters(&parent.access, "").await,
        403,
        "forbidden",
    );
    assert_problem(
        &api.redrive_dead_letters(&parent.access, json!({"queue": "jobs"}))
            .await,
        403,
        "forbidden",
    );
    assert_eq!(api.dead_letters(None, "").await.status, 401);
    lectern_e2e::api::assert_validation(
        &api.dead_letters(&admin.access, "queue=nope").await,
        "query.queue",
    );
    lectern_e2e::api::assert_validation(
        &api.dead_letters(&admin.access, "limit=500").await,
        "query.limit",
    );
    lectern_e2e::api::assert_validation(
        &api.redrive_dead_letters(&admin.access, json!({"queue": "jobs", "max": 0}))
            .await,
        "max",
    );
}
