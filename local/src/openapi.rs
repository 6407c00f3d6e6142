//! The whole API's OpenAPI document: every function's own document merged, plus the shared components.
//! `lectern openapi` prints it; `docs/openapi.json` is this output, kept current by a test.

use utoipa::OpenApi;
use utoipa::openapi::{InfoBuilder, LicenseBuilder, ServerBuilder};

/// Builds the document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = lectern_platform_health::ApiDoc::openapi();
    doc.merge(lectern_accounts_auth::ApiDoc::openapi());
    doc.merge(lectern_accounts_users::ApiDoc::openapi());
    doc.merge(lectern_accounts_admin::ApiDoc::openapi());
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
    doc
}

/// The document as committed: pretty JSON with a trailing newline.
pub fn document_json() -> String {
    let mut text = document().to_pretty_json().unwrap_or_else(|_| "{}".into());
    text.push('\n');
    text
}
