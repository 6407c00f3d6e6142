//! Demo content for a fresh dev server (`lectern seed`): Demo University with two courses, three topics each,
//! and 228 questions of every type (204 approved) and difficulty — most approved, a few pending review and a few drafts, so
//! every screen (practice, timed exams, the review queue) has something to show. Deterministic text, written
//! through the same use cases as the API, so it obeys every rule they enforce.

use lectern_shared::ids::Id;

use crate::errors::{ExamError, Result};
use crate::hierarchy::{NewNode, NodeKind};
use crate::questions::model::{AnswerInput, Difficulty, QuestionInput};
use crate::questions::moderation::BatchApprove;
use crate::{Exams, Tier, Viewer};

/// Questions per topic (6 topics: 228 in all, 204 approved).
pub const PER_TOPIC: usize = 38;

/// What the seed made.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeededContent {
    pub courses: Vec<String>,
    pub topics: usize,
    pub approved: usize,
    pub pending: usize,
    pub drafts: usize,
}

fn id(s: &str) -> Result<Id> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|e| ExamError::Internal(format!("a node id that is not an id: {e}")))
}

/// The `i`th question of a topic: the six types in turn, difficulties in turn, numbers from `seed`.
fn question(topic: &str, course: &str, subject: &str, i: usize) -> Result<QuestionInput> {
    let (a, b) = (i as i64 % 9 + 2, i as i64 / 6 % 7 + 3);
    let difficulty = Difficulty::ALL[i / 6 % 3];
    let (stem, answer) = match i % 6 {
        0 => (
            format!("<p>{course}: what is <b>{a} × {b}</b>?</p>"),
            AnswerInput::SingleChoice {
                options: vec![
                    (a * b).to_string(),
                    (a * b + 1).to_string(),
                    (a + b).to_string(),
                ],
                correct: vec![0],
            },
        ),
        1 => (
            format!("<p>{course}: which of these are multiples of {a}?</p>"),
            AnswerInput::MultipleChoice {
                options: vec![
                    (a * b).to_string(),
                    (a * 2).to_string(),
                    (a * b + 1).to_string(),
                    (a + 1).to_string(),
                ],
                correct: vec![0, 1],
            },
        ),
        2 => (
            format!(
                "<p>{course}: true or false — {a} + {b} = {}.</p>",
                a + b + (i as i64 % 2)
            ),
            AnswerInput::TrueFalse {
                correct: i.is_multiple_of(2),
            },
        ),
        3 => (
            format!("<p>{course}: give {a} ÷ {b} to two decimal places.</p>"),
            AnswerInput::Numeric {
                value: (a as f64 / b as f64 * 100.0).round() / 100.0,
                tolerance: 0.01,
            },
        ),
        4 => (
            format!("<p>{course}: name the result of adding {a} and {b}, in words or digits.</p>"),
            AnswerInput::ShortText {
                accepted: vec![(a + b).to_string()],
                case_sensitive: false,
            },
        ),
        _ => (
            format!("<p>{course}: explain, in your own words, why {a} × {b} = {b} × {a}.</p>"),
            AnswerInput::Essay {
                rubric: Some("Names commutativity; gives an example.".into()),
                max_words: Some(300),
            },
        ),
    };
    Ok(QuestionInput {
        topic_id: id(topic)?,
        stem,
        explanation: Some(format!(
            "<p>Worked answer for question {i} of this topic.</p>"
        )),
        difficulty,
        subject: Some(subject.into()),
        tags: vec!["demo".into(), format!("set-{}", i % 4)],
        answer,
    })
}

impl Exams {
    /// Seeds the demo content as `author_id` (an admin: author and moderator). Not idempotent by itself: the
    /// caller runs it once (the dev server's seed marker).
    pub async fn seed_demo(&self, author_id: &str) -> Result<SeededContent> {
        let staff = Viewer {
            user_id: author_id.to_string(),
            author: true,
            moderator: true,
            tier: Tier::Premium,
        };
        let node = |kind,
                    parent: Option<&str>,
                    name: &str,
                    code: Option<&str>,
                    level|
         -> Result<NewNode> {
            Ok(NewNode {
                kind,
                parent_id: parent.map(id).transpose()?,
                name: name.into(),
                code: code.map(Into::into),
                description: None,
                level,
            })
        };
        let university = self
            .create_node(
                &staff,
                node(NodeKind::Institution, None, "Demo University", None, None)?,
            )
            .await?;
        let faculty = self
            .create_node(
                &staff,
                node(
                    NodeKind::Faculty,
                    Some(&university.node_id),
                    "Faculty of Science",
                    None,
                    None,
                )?,
            )
            .await?;
        let department = self
            .create_node(
                &staff,
                node(
                    NodeKind::Department,
                    Some(&faculty.node_id),
                    "Mathematics",
                    None,
                    None,
                )?,
            )
            .await?;
        let mut seeded = SeededContent::default();
        let courses = [
            (
                "Algebra I",
                "MTH 101",
                100,
                "algebra",
                ["Arithmetic", "Linear equations", "Polynomials"],
            ),
            (
                "Discrete Mathematics",
                "MTH 201",
                200,
                "discrete-maths",
                ["Logic", "Sets", "Counting"],
            ),
        ];
        for (name, code, level, subject, topics) in courses {
            let course = self
                .create_node(
                    &staff,
                    node(
                        NodeKind::Course,
                        Some(&department.node_id),
                        name,
                        Some(code),
                        Some(level),
                    )?,
                )
                .await?;
            seeded.courses.push(course.node_id.clone());
            for topic_name in topics {
                let topic = self
                    .create_node(
                        &staff,
                        node(
                            NodeKind::Topic,
                            Some(&course.node_id),
                            topic_name,
                            None,
                            None,
                        )?,
                    )
                    .await?;
                seeded.topics += 1;
                let mut to_approve = Vec::new();
                for i in 0..PER_TOPIC {
                    let q = self
                        .create_question(&staff, question(&topic.node_id, code, subject, i)?)
                        .await?;
                    // The last two of a topic stay drafts, the two before wait for review; the rest are approved.
                    if i >= PER_TOPIC - 2 {
                        seeded.drafts += 1;
                        continue;
                    }
                    self.submit_question(&staff, &q.question_id).await?;
                    if i >= PER_TOPIC - 4 {
                        seeded.pending += 1;
                    } else {
                        to_approve.push(id(&q.question_id)?);
                    }
                }
                for batch in to_approve.chunks(crate::questions::moderation::MAX_BATCH) {
                    let answer = self
                        .batch_approve(
                            &staff,
                            BatchApprove {
                                ids: batch.to_vec(),
                            },
                        )
                        .await?;
                    seeded.approved += answer.results.len();
                }
            }
        }
        Ok(seeded)
    }
}
