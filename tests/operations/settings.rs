//! `/v1/settings` and `/v1/admin/settings`: the public subset, conditional replacement (ETag / If-Match), validation,
//! permissions and the audit record of each change.

use lectern_e2e::api::{Api, assert_problem};
use serde_json::{Value, json};

fn settings(support: &str, maintenance: Option<&str>) -> Value {
    json!({
        "support_email": support,
        "min_client_version": {"ios": "3.2", "android": "3.1.4"},
        "maintenance_message": maintenance,
        "default_locale": "pt-BR",
        "registration_open": false,
        "internal_note": "only for operators"
    })
}

#[tokio::test]
async fn anyone_reads_the_defaults_before_any_change() {
    let api = Api::start().await;
    let reply = api.public_settings().await.expect_status(200);
    assert_eq!(reply.body["default_locale"], "en");
    assert_eq!(reply.body["registration_open"], true);
    assert!(reply.body.get("internal_note").is_none());
}

#[tokio::test]
async fn an_admin_replaces_the_settings_against_the_version_read_and_everyone_sees_the_public_part()
{
    let api = Api::start().await;
    let admin = api.admin("settings.admin@example.com").await;

    let read = api.admin_settings(&admin.access).await.expect_status(200);
    assert_eq!(read.header("etag"), "\"0\"");
    assert_eq!(read.body["version"], 0);

    let written = api
        .put_settings(
            &admin.access,
            Some("\"0\""),
            settings("help@example.com", Some("Back at 10:00")),
        )
        .await
        .expect_status(200);
    assert_eq!(written.header("etag"), "\"1\"");
    assert_eq!(
        written.body["settings"]["internal_note"],
        "only for operators"
    );
    assert_eq!(written.body["updated_by"], admin.user_id.as_str());

    let public = api.public_settings().await.expect_status(200);
    assert_eq!(
        public.body,
        json!({
            "support_email": "help@example.com",
            "min_client_version": {"ios": "3.2", "android": "3.1.4", "web": null},
            "maintenance_message": "Back at 10:00",
            "default_locale": "pt-BR",
            "registration_open": false
        }),
        "the public subset, without the internal note"
    );

    // A second admin who read version 0 writes too late: refused, nothing changes.
    let stale = api
        .put_settings(
            &admin.access,
            Some("\"0\""),
            settings("other@example.com", None),
        )
        .await;
    assert_problem(&stale, 412, "precondition-failed");
    let missing = api
        .put_settings(&admin.access, None, settings("other@example.com", None))
        .await;
    assert_problem(&missing, 400, "validation");
    assert_eq!(missing.fields(), ["header.if-match"]);
    let garbled = api
        .put_settings(
            &admin.access,
            Some("1"),
            settings("other@example.com", None),
        )
        .await;
    assert_problem(&garbled, 400, "validation");
    assert_eq!(garbled.fields(), ["header.if-match"]);
    assert_eq!(
        api.public_settings().await.body["support_email"],
        "help@example.com"
    );

    // Clearing the maintenance message against the current version works; the audit log names what changed.
    api.put_settings(
        &admin.access,
        Some("\"1\""),
        settings("help@example.com", None),
    )
    .await
    .expect_status(200);
    assert!(api.public_settings().await.body["maintenance_message"].is_null());
    let audit = api
        .audit_logs(&admin.access, "action=settings_changed")
        .await
        .expect_status(200);
    let events = audit.items();
    assert_eq!(events.len(), 2, "{audit}");
    assert_eq!(events[0]["target_id"], "settings");
    assert_eq!(events[0]["actor_id"], admin.user_id.as_str());
    assert_eq!(
        events[0]["details"]["changed"],
        json!(["maintenance_message"])
    );
}

#[tokio::test]
async fn bad_settings_are_refused_field_by_field_and_change_nothing() {
    let api = Api::start().await;
    let admin = api.admin("settings.bad@example.com").await;
    let reply = api
        .put_settings(
            &admin.access,
            Some("\"0\""),
            json!({
                "support_email": "nobody",
                "min_client_version": {"ios": "3.x"},
                "maintenance_message": "m".repeat(501),
                "default_locale": "english please",
                "registration_open": true
            }),
        )
        .await;
    assert_problem(&reply, 400, "validation");
    assert_eq!(
        reply.fields(),
        [
            "support_email",
            "min_client_version.ios",
            "maintenance_message",
            "default_locale"
        ]
    );
    let unknown = api
        .put_settings(
            &admin.access,
            Some("\"0\""),
            json!({"default_locale": "en", "registration_open": true, "surprise": 1}),
        )
        .await;
    assert_eq!(unknown.status.as_u16(), 400, "{unknown}");
    assert_eq!(
        api.admin_settings(&admin.access).await.body["version"],
        0,
        "nothing was written"
    );
}

#[tokio::test]
async fn only_settings_managers_with_a_session_read_or_change_the_admin_settings() {
    let api = Api::start().await;
    let admin = api.admin("settings.owner@example.com").await;
    let moderator = api
        .with_role(&admin, "settings.moderator@example.com", "moderator")
        .await;
    let learner = api.signed_up("settings.learner@example.com").await;
    for who in [&moderator, &learner] {
        assert_problem(&api.admin_settings(&who.access).await, 403, "forbidden");
        let write = api
            .put_settings(&who.access, Some("\"0\""), settings("x@example.com", None))
            .await;
        assert_problem(&write, 403, "forbidden");
    }
    let (key, _) = api
        .new_key(
            &admin.access,
            json!({"name": "script", "scopes": ["settings:manage"]}),
        )
        .await;
    assert_problem(
        &api.admin_settings(lectern_e2e::api::Auth::Key(&key)).await,
        403,
        "forbidden",
    );
    assert_eq!(api.admin_settings(&admin.access).await.body["version"], 0);
}
