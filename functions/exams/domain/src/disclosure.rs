//! What a learner may see of a question, and when — the one place the rule lives.
//!
//! - Before answering: the stem and the options, never what is right, never the explanation.
//! - Once a question is answered (practice feedback): what is right; the explanation only on a premium account.
//! - Once the exam is submitted: what is right and the explanation, whatever the tier.
//!
//! Authors and moderators see everything through their own routes; learner-facing answers are always built by
//! [`learner_view`], so no route can hand out an answer key by forgetting a check.

use serde::Serialize;

use crate::Tier;
use crate::questions::model::{AnswerKey, Choice, Content, Difficulty, QuestionType};

/// How far a learner is with a question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Unanswered,
    Answered,
    Submitted,
}

/// What may be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reveal {
    pub answer: bool,
    pub explanation: bool,
}

/// The rule.
pub fn reveal(tier: Tier, stage: Stage) -> Reveal {
    match stage {
        Stage::Unanswered => Reveal {
            answer: false,
            explanation: false,
        },
        Stage::Answered => Reveal {
            answer: true,
            explanation: tier == Tier::Premium,
        },
        Stage::Submitted => Reveal {
            answer: true,
            explanation: true,
        },
    }
}

/// A question as a learner sees it.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LearnerQuestion {
    pub question_id: String,
    /// The version shown (exams keep pointing at it).
    pub version: u64,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    pub difficulty: Difficulty,
    pub topic_id: String,
    pub course_id: String,
    /// Sanitized HTML.
    pub stem: String,
    /// The choices, for choice questions, in the order to show them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Choice>>,
    /// Essays: the most words an answer may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_words: Option<u32>,
    /// What is right: only once the learner may know it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_key: Option<AnswerKey>,
    /// Only once the learner may read it (see the module docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// The learner's view of one version, with options in `order` (option ids; the stored order when `None`).
pub fn learner_view(
    question_id: &str,
    version: u64,
    content: &Content,
    order: Option<&[String]>,
    tier: Tier,
    stage: Stage,
) -> LearnerQuestion {
    let shown = reveal(tier, stage);
    let options = content.answer.options().map(|options| match order {
        Some(order) => order
            .iter()
            .filter_map(|id| options.iter().find(|o| &o.id == id).cloned())
            .collect(),
        None => options.to_vec(),
    });
    let max_words = match &content.answer {
        AnswerKey::Essay { max_words, .. } => *max_words,
        _ => None,
    };
    LearnerQuestion {
        question_id: question_id.to_string(),
        version,
        kind: content.answer.kind(),
        difficulty: content.difficulty,
        topic_id: content.topic_id.clone(),
        course_id: content.course_id.clone(),
        stem: content.stem.clone(),
        options,
        max_words,
        answer_key: shown.answer.then(|| content.answer.clone()),
        explanation: if shown.explanation {
            content.explanation.clone()
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_before_answering_and_explanations_wait_for_submit_on_the_free_tier() {
        for tier in [Tier::Free, Tier::Premium] {
            assert_eq!(
                reveal(tier, Stage::Unanswered),
                Reveal {
                    answer: false,
                    explanation: false
                }
            );
            assert_eq!(
                reveal(tier, Stage::Submitted),
                Reveal {
                    answer: true,
                    explanation: true
                }
            );
        }
        assert_eq!(
            reveal(Tier::Free, Stage::Answered),
            Reveal {
                answer: true,
                explanation: false
            }
        );
        assert_eq!(
            reveal(Tier::Premium, Stage::Answered),
            Reveal {
                answer: true,
                explanation: true
            }
        );
    }
}
