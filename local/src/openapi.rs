//! The whole API's OpenAPI document: the fragments every function derives from its own routes, merged, plus the
//! shared components. `lectern openapi` prints it; `docs/openapi.json` is this output, kept current by a test.

use utoipa::openapi::{InfoBuilder, LicenseBuilder, OpenApi, ServerBuilder};

/// Every HTTP function's OpenAPI fragment, each built from the routes it serves.
fn functions() -> [OpenApi; 16] {
    [
        lectern_platform_health::routes().openapi(),
        lectern_accounts_auth::routes().openapi(),
        lectern_accounts_users::routes().openapi(),
        lectern_accounts_admin::routes().openapi(),
        lectern_exams_catalog::routes().openapi(),
        lectern_exams_questions::routes().openapi(),
        lectern_exams_exams::routes().openapi(),
        lectern_learning_profiles::routes().openapi(),
        lectern_learning_catalog::routes().openapi(),
        lectern_learning_progress::routes().openapi(),
        lectern_learning_achievements::routes().openapi(),
        lectern_learning_leaderboards::routes().openapi(),
        lectern_platform_inbox::routes().openapi(),
        lectern_operations_settings::routes().openapi(),
        lectern_webhooks_endpoints::routes().openapi(),
        lectern_platform_console::routes().openapi(),
    ]
}

/// Builds the document.
pub fn document() -> OpenApi {
    let mut doc = OpenApi::default();
    for fragment in functions() {
        doc.merge(fragment);
    }
    doc.info = InfoBuilder::new()
        .title("Lectern API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some("Backend for learning apps. Errors are RFC 9457 application/problem+json; lists page with ?limit=&cursor=."))
        .license(Some(LicenseBuilder::new().name("Apache-2.0").build()))
        .build();
    doc.servers = Some(vec![
        ServerBuilder::new()
            .url("http://127.0.0.1:3000")
            .description(Some("dev server"))
            .build(),
    ]);
    lectern_shared::http::openapi::add_shared_components(&mut doc);
    // The event catalogue: OpenAPI 3.1's `webhooks` object, which fragments cannot carry through a merge.
    lectern_webhooks_endpoints::catalogue::add_to(&mut doc);
    doc
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn document_json() -> String {
    let mut text = document().to_pretty_json().unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}
