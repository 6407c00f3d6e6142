//! The committed `docs/openapi.json` must equal what the code generates. To refresh it:
//! `cargo run --bin lectern -- openapi > docs/openapi.json`.

#[test]
fn committed_openapi_is_up_to_date() {
    let generated = lectern_local::openapi::document_json();
    let path = lectern_e2e::repo_root().join("docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        if std::env::var("LECTERN_UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &generated).expect("writing docs/openapi.json");
            return;
        }
        panic!(
            "docs/openapi.json is out of date; run `cargo run --bin lectern -- openapi > docs/openapi.json` \
             (or LECTERN_UPDATE_OPENAPI=1 cargo test -p lectern-e2e --test platform openapi)"
        );
    }
}

#[test]
fn every_route_is_documented_as_openapi_3_1_with_problem_schema() {
    let doc: serde_json::Value =
        serde_json::from_str(&lectern_local::openapi::document_json()).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/v1/health", "/v1/health/ready", "/v1/openapi.json"] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert_eq!(
        doc["paths"]["/v1/health/ready"]["get"]["responses"]["503"]["content"]["application/problem+json"]
            ["schema"]["$ref"],
        "#/components/schemas/Problem"
    );
}

/// A `$ref` to a schema the document does not define leaves clients' generators and schemathesis without that
/// part of the contract (schemathesis only warns, and skips it).
#[test]
fn every_schema_reference_resolves() {
    fn walk(
        value: &serde_json::Value,
        at: &str,
        missing: &mut Vec<String>,
        defined: &serde_json::Value,
    ) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(|r| r.as_str())
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    && defined.get(name).is_none()
                {
                    missing.push(format!("{name} (at {at})"));
                }
                for (key, inner) in map {
                    walk(inner, &format!("{at}/{key}"), missing, defined);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    walk(inner, &format!("{at}/{i}"), missing, defined);
                }
            }
            _ => {}
        }
    }
    let doc: serde_json::Value =
        serde_json::from_str(&lectern_local::openapi::document_json()).unwrap();
    let mut missing = Vec::new();
    walk(&doc, "", &mut missing, &doc["components"]["schemas"]);
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "schemas referenced but not defined"
    );
}
