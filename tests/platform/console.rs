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
