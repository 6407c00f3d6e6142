//! Validators of the domain's inputs. Each has a schema in [`crate::schema`] that says exactly what it accepts;
//! the schema tests hold the two together.

use serde_json::{Map, Value};

/// Largest preferences object, as compact JSON.
pub const MAX_PREFERENCES_BYTES: usize = 2048;
/// Deepest nesting of a preferences object (the object itself is depth 1).
pub const MAX_PREFERENCES_DEPTH: usize = 4;

/// The field errors of one input, collected so that every bad field is named at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<(String, String)>);

impl FieldErrors {
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_string(), message.into()));
    }

    /// A name or title ([`trimmed_text`]): the trimmed text, or `value` as it was with the field's error.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        trimmed_text(value, max).unwrap_or_else(|| {
            self.fail(
                field,
                format!("1 to {max} characters without control characters"),
            );
            value.to_string()
        })
    }

    /// A free text of at most `max` characters.
    pub fn at_most(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.fail(field, format!("at most {max} characters"));
        }
    }

    /// `Ok` when nothing failed, else every field's error.
    pub fn done(self) -> crate::errors::LearningResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::errors::LearningError::Invalid(self.0))
        }
    }
}

/// `#[serde(deserialize_with = "validate::whole")]` for a required integer of a request body: `3.0` is the integer
/// 3, as JSON Schema counts it (see `lectern_shared::http::extract::whole_number`).
pub fn whole<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    lectern_shared::http::extract::whole_number(deserializer)?
        .ok_or_else(|| serde::de::Error::custom("expected a whole number, not null"))
}

/// Text that, trimmed, has 1..=`max` characters and no control character; answers it trimmed.
pub fn trimmed_text(value: &str, max: usize) -> Option<String> {
    let t = value.trim();
    ((1..=max).contains(&t.chars().count()) && !t.chars().any(char::is_control))
        .then(|| t.to_string())
}

/// A preferences object: any JSON object of at most [`MAX_PREFERENCES_BYTES`] (compact) nested at most
/// [`MAX_PREFERENCES_DEPTH`] deep. The app owns its meaning; the server only bounds it.
pub fn preferences(map: &Map<String, Value>) -> Result<(), String> {
    fn depth(v: &Value) -> usize {
        match v {
            Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
            Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }
    let size = serde_json::to_vec(map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_PREFERENCES_BYTES {
        return Err(format!(
            "at most {MAX_PREFERENCES_BYTES} bytes of JSON, this is {size}"
        ));
    }
    let nested = 1 + map.values().map(depth).max().unwrap_or(0);
    if nested > MAX_PREFERENCES_DEPTH {
        return Err(format!("at most {MAX_PREFERENCES_DEPTH} levels deep"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn preferences_are_bounded_in_size_and_depth() {
        let ok = json!({"sound": true, "theme": {"colour": "blue"}});
        assert!(preferences(ok.as_object().unwrap()).is_ok());
        let four = json!({"a": {"b": {"c": {"d": 1}}}});
        assert!(preferences(four.as_object().unwrap()).is_ok());
        let deep = json!({"a": {"b": {"c": {"d": {"e": 1}}}}});
        assert!(
            preferences(deep.as_object().unwrap())
                .unwrap_err()
                .contains("levels")
        );
        let big = json!({"x": "y".repeat(MAX_PREFERENCES_BYTES)});
        assert!(
            preferences(big.as_object().unwrap())
                .unwrap_err()
                .contains("bytes")
        );
    }
}
