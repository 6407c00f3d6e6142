//! Marking one answer, by question type. Every question is worth 1 mark; an exam's score is the sum.
//!
//! - `single_choice`, `true_false`: 1 when right, else 0.
//! - `multiple_choice`: partial credit. With `k` right options and `w` wrong ones, a response with `h` right and
//!   `f` wrong options scores `max(0, h/k − f/w)` (`f/w` is 0 when every option is right): all right and nothing
//!   wrong is 1, ticking every option is 0, and guessing wrong costs what guessing right earns. Never below 0: there
//!   is no negative marking (the issue does not ask for it), so a blank is never worse than a guess.
//! - `numeric`: 1 when within the tolerance of the value (plus a rounding allowance of 1e-9 × max(1, |value|)).
//! - `short_text`: 1 when equal to an accepted answer once both are normalized (trimmed, inner white space as one
//!   space, lowercased unless the question is case sensitive), as `model::normalize_text` does.
//! - `essay`: no mark until an instructor grades it (0 to 1).
//!
//! A question left blank scores 0, an essay included: there is nothing to grade.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::errors::{ExamError, Result};
use crate::questions::model::{AnswerKey, QuestionType, normalize_text};

/// Longest short-text response, in characters.
pub const MAX_SHORT_TEXT: usize = 200;
/// Longest essay, in characters.
pub const MAX_ESSAY: usize = 50_000;

/// What a learner answers, by question type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = ExamResponse)]
pub enum Response {
    /// The id of the option chosen.
    SingleChoice {
        #[schema(schema_with = crate::schema::option_id)]
        choice: String,
    },
    /// The ids of the options chosen (none is a valid, if unrewarding, answer); duplicates count once.
    MultipleChoice {
        #[schema(schema_with = crate::schema::option_ids)]
        choices: Vec<String>,
    },
    TrueFalse {
        value: bool,
    },
    Numeric {
        #[schema(schema_with = crate::schema::finite_number)]
        value: f64,
    },
    ShortText {
        #[schema(schema_with = crate::schema::short_text_response)]
        text: String,
    },
    Essay {
        #[schema(schema_with = crate::schema::essay_response)]
        text: String,
    },
}

impl Response {
    pub fn kind(&self) -> QuestionType {
        match self {
            Response::SingleChoice { .. } => QuestionType::SingleChoice,
            Response::MultipleChoice { .. } => QuestionType::MultipleChoice,
            Response::TrueFalse { .. } => QuestionType::TrueFalse,
            Response::Numeric { .. } => QuestionType::Numeric,
            Response::ShortText { .. } => QuestionType::ShortText,
            Response::Essay { .. } => QuestionType::Essay,
        }
    }

    /// The response as stored: checked against the question (`field` names it in errors), choices de-duplicated
    /// and sorted, essays trimmed. Refuses a response of another type, an option the question does not have, and
    /// text over its limits.
    pub fn checked(self, key: &AnswerKey, field: &str) -> Result<Response> {
        if self.kind() != key.kind() {
            return Err(ExamError::field(
                &format!("{field}.type"),
                format!("this question is {}", key.kind().as_str()),
            ));
        }
        let option_ids: BTreeSet<&str> = key
            .options()
            .map(|o| o.iter().map(|c| c.id.as_str()).collect())
            .unwrap_or_default();
        let known = |id: &str, at: String| -> Result<()> {
            if option_ids.contains(id) {
                Ok(())
            } else {
                Err(ExamError::field(&at, "not an option of this question"))
            }
        };
        Ok(match self {
            Response::SingleChoice { choice } => {
                known(&choice, format!("{field}.choice"))?;
                Response::SingleChoice { choice }
            }
            Response::MultipleChoice { choices } => {
                let unique: BTreeSet<String> = choices.into_iter().collect();
                for (i, id) in unique.iter().enumerate() {
                    known(id, format!("{field}.choices[{i}]"))?;
                }
                Response::MultipleChoice {
                    choices: unique.into_iter().collect(),
                }
            }
            Response::Numeric { value } if !value.is_finite() => {
                return Err(ExamError::field(
                    &format!("{field}.value"),
                    "must be a finite number",
                ));
            }
            Response::ShortText { text } => {
                if text.chars().count() > MAX_SHORT_TEXT {
                    return Err(ExamError::field(
                        &format!("{field}.text"),
                        format!("at most {MAX_SHORT_TEXT} characters"),
                    ));
                }
                Response::ShortText { text }
            }
            Response::Essay { text } => {
                let text = text.trim().to_string();
                if text.chars().count() > MAX_ESSAY {
                    return Err(ExamError::field(
                        &format!("{field}.text"),
                        format!("at most {MAX_ESSAY} characters"),
                    ));
                }
                if let AnswerKey::Essay {
                    max_words: Some(max),
                    ..
                } = key
                {
                    let words = text.split_whitespace().count();
                    if words > *max as usize {
                        return Err(ExamError::field(
                            &format!("{field}.text"),
                            format!("at most {max} words (this has {words})"),
                        ));
                    }
                }
                Response::Essay { text }
            }
            other => other,
        })
    }
}

/// The mark of a checked response (see the module docs): `None` for essays, which an instructor grades.
pub fn mark(key: &AnswerKey, response: &Response) -> Option<f64> {
    let whole = |right: bool| Some(if right { 1.0 } else { 0.0 });
    match (key, response) {
        (AnswerKey::SingleChoice { correct, .. }, Response::SingleChoice { choice }) => {
            whole(choice == correct)
        }
        (AnswerKey::MultipleChoice { options, correct }, Response::MultipleChoice { choices }) => {
            let right: BTreeSet<&str> = correct.iter().map(String::as_str).collect();
            let chosen: BTreeSet<&str> = choices.iter().map(String::as_str).collect();
            let k = right.len() as f64;
            let w = options.len().saturating_sub(right.len()) as f64;
            let hits = chosen.intersection(&right).count() as f64;
            let falses = chosen.difference(&right).count() as f64;
            let penalty = if w > 0.0 { falses / w } else { 0.0 };
            Some((hits / k.max(1.0) - penalty).max(0.0))
        }
        (AnswerKey::TrueFalse { correct }, Response::TrueFalse { value }) => {
            whole(value == correct)
        }
        (AnswerKey::Numeric { value, tolerance }, Response::Numeric { value: given }) => {
            let allowance = 1e-9 * value.abs().max(1.0);
            whole((given - value).abs() <= tolerance + allowance)
        }
        (
            AnswerKey::ShortText {
                accepted,
                case_sensitive,
            },
            Response::ShortText { text },
        ) => {
            let given = normalize_text(text, *case_sensitive);
            whole(
                accepted
                    .iter()
                    .any(|a| normalize_text(a, *case_sensitive) == given),
            )
        }
        (AnswerKey::Essay { .. }, Response::Essay { .. }) => None,
        // `checked` refuses a response of another type; were one stored anyway, it earns nothing.
        _ => Some(0.0),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::questions::model::Choice;

    fn options(n: usize) -> Vec<Choice> {
        (0..n)
            .map(|i| Choice {
                id: format!("o{i}"),
                text: format!("option {i}"),
            })
            .collect()
    }

    fn multiple(n: usize, right: &[usize]) -> AnswerKey {
        AnswerKey::MultipleChoice {
            options: options(n),
            correct: right.iter().map(|i| format!("o{i}")).collect(),
        }
    }

    fn chose(ids: &[usize]) -> Response {
        Response::MultipleChoice {
            choices: ids.iter().map(|i| format!("o{i}")).collect(),
        }
    }

    #[test]
    fn every_type_is_marked_by_its_rule() {
        let single = AnswerKey::SingleChoice {
            options: options(3),
            correct: "o1".into(),
        };
        assert_eq!(
            mark(
                &single,
                &Response::SingleChoice {
                    choice: "o1".into()
                }
            ),
            Some(1.0)
        );
        assert_eq!(
            mark(
                &single,
                &Response::SingleChoice {
                    choice: "o2".into()
                }
            ),
            Some(0.0)
        );
        let tf = AnswerKey::TrueFalse { correct: false };
        assert_eq!(mark(&tf, &Response::TrueFalse { value: false }), Some(1.0));
        assert_eq!(mark(&tf, &Response::TrueFalse { value: true }), Some(0.0));
        let numeric = AnswerKey::Numeric {
            value: 9.81,
            tolerance: 0.05,
        };
        for (given, expected) in [
            (9.81, 1.0),
            (9.86, 1.0),
            (9.76, 1.0),
            (9.87, 0.0),
            (-9.81, 0.0),
        ] {
            assert_eq!(
                mark(&numeric, &Response::Numeric { value: given }),
                Some(expected),
                "{given}"
            );
        }
        let exact = AnswerKey::Numeric {
            value: 0.3,
            tolerance: 0.0,
        };
        assert_eq!(
            mark(&exact, &Response::Numeric { value: 0.1 + 0.2 }),
            Some(1.0),
            "rounding is not a mistake"
        );
        let text = AnswerKey::ShortText {
            accepted: vec!["Paris".into(), "City of Light".into()],
            case_sensitive: false,
        };
        for (given, expected) in [
            ("paris", 1.0),
            ("  city   OF light ", 1.0),
            ("Pariss", 0.0),
            ("", 0.0),
        ] {
            assert_eq!(
                mark(&text, &Response::ShortText { text: given.into() }),
                Some(expected),
                "{given:?}"
            );
        }
        let cased = AnswerKey::ShortText {
            accepted: vec!["NaCl".into()],
            case_sensitive: true,
        };
        assert_eq!(
            mark(
                &cased,
                &Response::ShortText {
                    text: " NaCl ".into()
                }
            ),
            Some(1.0)
        );
        assert_eq!(
            mark(
                &cased,
                &Response::ShortText {
                    text: "nacl".into()
                }
            ),
            Some(0.0)
        );
        let essay = AnswerKey::Essay {
            rubric: None,
            max_words: Some(3),
        };
        assert_eq!(mark(&essay, &Response::Essay { text: "a b".into() }), None);
    }

    #[test]
    fn multiple_choice_gives_documented_partial_credit() {
        let key = multiple(4, &[0, 1]);
        assert_eq!(mark(&key, &chose(&[0, 1])), Some(1.0));
        assert_eq!(mark(&key, &chose(&[0])), Some(0.5));
        assert_eq!(mark(&key, &chose(&[0, 2])), Some(0.0));
        assert_eq!(mark(&key, &chose(&[0, 1, 2])), Some(0.5));
        assert_eq!(
            mark(&key, &chose(&[0, 1, 2, 3])),
            Some(0.0),
            "ticking everything earns nothing"
        );
        assert_eq!(mark(&key, &chose(&[])), Some(0.0));
        assert_eq!(
            mark(&multiple(3, &[0, 1, 2]), &chose(&[0, 1, 2])),
            Some(1.0),
            "every option right"
        );
    }

    #[test]
    fn responses_are_checked_against_their_question() {
        let key = multiple(4, &[0, 1]);
        let checked = chose(&[1, 0, 1]).checked(&key, "response").unwrap();
        assert_eq!(checked, chose(&[0, 1]), "duplicates count once");
        let err = chose(&[7]).checked(&key, "response").unwrap_err();
        assert!(
            matches!(err, ExamError::Invalid(ref f) if f[0].0 == "response.choices[0]"),
            "{err:?}"
        );
        let err = Response::TrueFalse { value: true }
            .checked(&key, "response")
            .unwrap_err();
        assert!(
            matches!(err, ExamError::Invalid(ref f) if f[0].0 == "response.type"),
            "{err:?}"
        );
        let essay = AnswerKey::Essay {
            rubric: None,
            max_words: Some(3),
        };
        assert!(
            Response::Essay {
                text: " one two three ".into()
            }
            .checked(&essay, "r")
            .is_ok()
        );
        assert!(
            Response::Essay {
                text: "one two three four".into()
            }
            .checked(&essay, "r")
            .is_err()
        );
        let text = AnswerKey::ShortText {
            accepted: vec!["x".into()],
            case_sensitive: false,
        };
        assert!(
            Response::ShortText {
                text: "x".repeat(MAX_SHORT_TEXT + 1)
            }
            .checked(&text, "r")
            .is_err()
        );
    }

    proptest! {
        /// Brute force over every response to a multiple-choice question: marks lie in [0, 1], only the exact set
        /// earns 1, adding a right option never lowers the mark and adding a wrong one never raises it.
        #[test]
        fn multiple_choice_marks_are_bounded_and_monotone(n in 2usize..7, right_bits in 1u32..64, chosen_bits in 0u32..64) {
            let right: Vec<usize> = (0..n).filter(|i| right_bits & (1 << i) != 0).collect();
            prop_assume!(!right.is_empty());
            let key = multiple(n, &right);
            let chosen: Vec<usize> = (0..n).filter(|i| chosen_bits & (1 << i) != 0).collect();
            let m = mark(&key, &chose(&chosen)).unwrap();
            prop_assert!((0.0..=1.0).contains(&m));
            prop_assert_eq!(m == 1.0, chosen == right);
            for extra in 0..n {
                if chosen.contains(&extra) { continue; }
                let mut more = chosen.clone();
                more.push(extra);
                let m2 = mark(&key, &chose(&more)).unwrap();
                if right.contains(&extra) { prop_assert!(m2 >= m); } else { prop_assert!(m2 <= m); }
            }
        }

        /// Numeric answers: right exactly within the tolerance.
        #[test]
        fn numeric_marks_follow_the_tolerance(value in -1e6f64..1e6, tolerance in 0f64..10.0, off in -20f64..20.0) {
            let key = AnswerKey::Numeric { value, tolerance };
            let m = mark(&key, &Response::Numeric { value: value + off }).unwrap();
            if off.abs() < tolerance * 0.999 { prop_assert_eq!(m, 1.0); }
            if off.abs() > tolerance * 1.001 + 1e-3 { prop_assert_eq!(m, 0.0); }
        }

        /// Short text ignores surrounding and repeated white space, and case unless asked not to.
        #[test]
        fn short_text_ignores_spacing_and_case(word in "[a-zA-Z]{1,8}( [a-zA-Z]{1,8}){0,2}", pad in " {0,3}") {
            let key = AnswerKey::ShortText { accepted: vec![word.clone()], case_sensitive: false };
            let given = format!("{pad}{}{pad}", word.to_uppercase().replace(' ', "  "));
            prop_assert_eq!(mark(&key, &Response::ShortText { text: given }), Some(1.0));
        }
    }
}
