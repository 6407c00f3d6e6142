//! The operations of the generated OpenAPI document (`lectern_local::openapi::document_json`), for the tests
//! that walk every route: a route added to a router and its document is covered without touching the tests.

use std::fmt;

use reqwest::Method;
use serde_json::{Map, Value, json};

/// One documented operation.
#[derive(Clone, Debug)]
pub struct Operation {
    pub method: Method,
    /// The path template, e.g. `/v1/admin/users/{user_id}/role`.
    pub path: String,
    /// The security schemes any one of which authenticates it (`bearer`, `api_key`); empty when public.
    pub security: Vec<String>,
    /// The schema of its `application/json` request body (references resolved at the top), when it takes one.
    pub json_body: Option<Value>,
    /// The names of its path parameters.
    pub path_params: Vec<String>,
    /// The whole document, to resolve references inside the body schema.
    components: Value,
}

/// Every operation of the document, in its order (by path, then method).
pub fn operations() -> Vec<Operation> {
    let doc: Value = serde_json::from_str(&lectern_local::openapi::document_json())
        .expect("the OpenAPI document is JSON");
    let components = doc["components"].clone();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            const METHODS: [&str; 8] = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let method = method.to_uppercase().parse::<Method>().expect("a method");
            let security = op["security"]
                .as_array()
                .map(|reqs| {
                    reqs.iter()
                        .filter_map(Value::as_object)
                        .flat_map(|req| req.keys().cloned())
                        .collect()
                })
                .unwrap_or_default();
            let json_body = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|schema| resolve(&components, &Value::Object(schema.clone())));
            let path_params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().expect("parameter name").to_string())
                .collect();
            out.push(Operation {
                method,
                path: path.clone(),
                security,
                json_body,
                path_params,
                components: components.clone(),
            });
        }
    }
    assert!(!out.is_empty(), "the document lists no operation");
    out
}

/// Follows a `$ref` into `#/components/...`.
fn resolve(components: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/")
                .unwrap_or_else(|| panic!("a reference outside the components: {reference}"));
            let target = name.split('/').fold(components, |node, part| &node[part]);
            assert!(!target.is_null(), "dangling reference {reference}");
            resolve(components, target)
        }
        None => schema.clone(),
    }
}

impl Operation {
    /// Whether it needs credentials.
    pub fn authenticated(&self) -> bool {
        !self.security.is_empty()
    }

    /// Whether its path starts with `prefix` (a route group such as `/v1/auth/`).
    pub fn under(&self, prefix: &str) -> bool {
        self.path.starts_with(prefix)
    }

    /// The path with each `{param}` replaced by `fill(param)`.
    pub fn path_with(&self, fill: impl Fn(&str) -> String) -> String {
        self.path_params
            .iter()
            .fold(self.path.clone(), |path, name| {
                path.replace(&format!("{{{name}}}"), &fill(name))
            })
    }

    fn body_schema(&self) -> &Value {
        self.json_body
            .as_ref()
            .unwrap_or_else(|| panic!("{self} takes no JSON body"))
    }

    /// The properties of its JSON body, required ones first, each group in the document's order.
    pub fn body_fields(&self) -> Vec<String> {
        let schema = self.body_schema();
        let required = self.required_fields();
        let others = schema["properties"]
            .as_object()
            .into_iter()
            .flat_map(Map::keys)
            .filter(|name| !required.contains(name))
            .cloned()
            .collect::<Vec<_>>();
        required.into_iter().chain(others).collect()
    }

    /// The schema of a property of its JSON body, references resolved.
    pub fn field_schema(&self, name: &str) -> Value {
        resolve(&self.components, &self.body_schema()["properties"][name])
    }

    /// The required properties of its JSON body.
    pub fn required_fields(&self) -> Vec<String> {
        self.body_schema()["required"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|name| name.as_str().expect("property name").to_string())
            .collect()
    }

    /// Whether its JSON body refuses properties it does not declare.
    pub fn refuses_unknown_fields(&self) -> bool {
        self.body_schema()["additionalProperties"] == false
    }

    /// A well-typed JSON body: every required property with a value of its declared type (the first property
    /// when none is required, so the body is never `{}`). Enumerations take their last value (the most
    /// privileged role, the paid tier), so a request that should have been refused but was carried out would show.
    pub fn sample_body(&self) -> Value {
        let schema = self.body_schema();
        let mut fields = self.required_fields();
        if fields.is_empty() {
            fields.extend(self.body_fields().into_iter().take(1));
        }
        let body = fields
            .into_iter()
            .map(|name| {
                let value = self.sample(&schema["properties"][&name]);
                (name, value)
            })
            .collect::<Map<_, _>>();
        Value::Object(body)
    }

    fn sample(&self, schema: &Value) -> Value {
        let schema = resolve(&self.components, schema);
        if let Some(values) = schema["enum"].as_array() {
            return values.last().cloned().expect("an enum has values");
        }
        if let Some(choices) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
            let choice = choices
                .iter()
                .find(|c| c["type"] != "null")
                .expect("a non-null choice");
            return self.sample(choice);
        }
        let kind = match &schema["type"] {
            Value::Array(kinds) => kinds
                .iter()
                .find(|k| *k != "null")
                .cloned()
                .unwrap_or(Value::Null),
            kind => kind.clone(),
        };
        match kind.as_str() {
            // An id-shaped string: serde reads a body field by field, so a non-id here would be refused before
            // a malformed body's end is even seen.
            Some("string")
                if schema["pattern"] == lectern_shared::http::constraints::ID_PATTERN =>
            {
                json!("01JSAMP1E0000000000000000A")
            }
            // A declared example (an id, an email) is a value of the right shape, not only of the right type.
            Some("string") => schema["examples"][0]
                .clone()
                .as_str()
                .map_or(json!("sample"), |e| json!(e)),
            Some("integer") | Some("number") => json!(1),
            Some("boolean") => json!(true),
            Some("array") => json!([self.sample(&schema["items"])]),
            // Nested objects get their required properties too, so the whole body is well-formed.
            Some("object") => Value::Object(
                schema["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|name| name.as_str())
                    .map(|name| (name.to_string(), self.sample(&schema["properties"][name])))
                    .collect(),
            ),
            _ => panic!("{self}: no sample for the schema {schema}"),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}
