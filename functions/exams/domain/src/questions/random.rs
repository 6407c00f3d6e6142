//! `GET /v1/questions/random`: a draw for a learner within a selection session, recorded so the session never
//! serves a question twice and later draws prefer what the learner has not seen.

use std::collections::{BTreeMap, BTreeSet};

use lectern_shared::table::{Condition, Entity, TableError, TxOp};
use serde::Serialize;

use crate::disclosure::{self, LearnerQuestion, Stage};
use crate::errors::{ExamError, Result};
use crate::exams::statistics::Ability;
use crate::questions::model::Difficulty;
use crate::questions::pool::{MAX_SERVED, PoolEntry, Seen, SelectionSession};
use crate::questions::selection::{Draw, Mix, Scope, adaptive_mix};
use crate::questions::store::Question;
use crate::{Exams, Viewer};

/// Most questions one draw serves.
pub const MAX_COUNT: usize = 50;

/// A learner's request.
#[derive(Clone, Debug)]
pub struct RandomRequest {
    pub scope: Scope,
    pub count: usize,
    pub mix: Option<Mix>,
    /// Weigh difficulties by the caller's ability instead (`mix=adaptive`; `mix` is then ignored).
    pub adaptive: bool,
    /// The selection session to continue; a new one when `None`.
    pub session_id: Option<String>,
}

/// Pool sizes by difficulty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PoolSizes {
    pub easy: u64,
    pub medium: u64,
    pub hard: u64,
}

impl From<&BTreeMap<Difficulty, u64>> for PoolSizes {
    fn from(sizes: &BTreeMap<Difficulty, u64>) -> Self {
        let of = |d| sizes.get(&d).copied().unwrap_or(0);
        Self {
            easy: of(Difficulty::Easy),
            medium: of(Difficulty::Medium),
            hard: of(Difficulty::Hard),
        }
    }
}

/// What a draw answers.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RandomAnswer {
    /// Pass it back as `session` to draw more without repeats.
    pub session_id: String,
    /// The questions, without their answers.
    pub items: Vec<LearnerQuestion>,
    pub requested: usize,
    /// Whether `items` holds all that was requested.
    pub complete: bool,
    /// Says plainly why fewer came back, when they did.
    pub message: Option<String>,
    /// Approved questions in the course or topic, by difficulty.
    pub available: PoolSizes,
    /// `mix=adaptive`: the ability the weights were chosen for (0 before any completed exam).
    pub ability: Option<f64>,
}

impl Exams {
    /// Draws questions for a learner and records them as served and seen.
    pub async fn random_questions(
        &self,
        viewer: &Viewer,
        request: RandomRequest,
    ) -> Result<RandomAnswer> {
        if !(1..=MAX_COUNT).contains(&request.count) {
            return Err(ExamError::field("query.count", format!("1 to {MAX_COUNT}")));
        }
        let now = self.epoch();
        let session = match &request.session_id {
            Some(id) => {
                let item = self.table().get(&SelectionSession::key_of(id)).await?;
                match item.map(SelectionSession::from_item).transpose()? {
                    // Another learner's session is nobody's, as far as this caller can tell.
                    Some(s) if s.user_id == viewer.user_id => Some(s),
                    _ => return Err(ExamError::NotFound("selection session")),
                }
            }
            None => None,
        };
        let served: BTreeSet<String> = session
            .iter()
            .flat_map(|s| s.served.iter().cloned())
            .collect();
        if served.len() + request.count > MAX_SERVED {
            return Err(ExamError::InvalidState(format!(
                "this session has served {} questions; a session serves at most {MAX_SERVED}: start a new one",
                served.len()
            )));
        }
        let ability = match request.adaptive {
            true => Some(self.ability_in(&viewer.user_id, &request.scope).await?),
            false => None,
        };
        let draw = Draw {
            scope: request.scope.clone(),
            count: request.count,
            mix: ability.map(adaptive_mix).or_else(|| request.mix.clone()),
            exclude: served.clone(),
        };
        let drawn = self.draw(&viewer.user_id, &draw).await?;
        let keys: Vec<_> = drawn
            .picked
            .iter()
            .map(|(e, _)| Question::key_of(&e.question_id))
            .collect();
        let heads: Vec<Question> = self
            .table()
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(Question::from_item)
            .collect::<std::result::Result<_, _>>()?;
        // In the order drawn; a question withdrawn since the draw read its pool entry is left out.
        let mut items = Vec::new();
        let mut picked: Vec<&(PoolEntry, u64)> = Vec::new();
        for pick in &drawn.picked {
            let live = heads.iter().find(|q| {
                q.question_id == pick.0.question_id
                    && q.status == crate::questions::model::Status::Approved
            });
            if let Some(q) = live {
                items.push(disclosure::learner_view(
                    &q.question_id,
                    q.version,
                    &q.content,
                    None,
                    viewer.tier,
                    Stage::Unanswered,
                ));
                picked.push(pick);
            }
        }
        let session_id = session
            .as_ref()
            .map_or_else(lectern_shared::ids::new_id, |s| s.session_id.clone());
        self.record_served(viewer, session.as_ref(), &session_id, &picked, now)
            .await?;
        let complete = items.len() == request.count;
        let total: u64 = drawn.available.values().sum();
        let message = (!complete).then(|| {
            format!(
                "only {} of the {} questions asked for could be drawn: the pool holds {total} approved question(s) \
                 for this mix, of which this session has already served {}",
                items.len(),
                request.count,
                served.len()
            )
        });
        Ok(RandomAnswer {
            session_id,
            items,
            requested: request.count,
            complete,
            message,
            available: PoolSizes::from(&drawn.available),
            ability,
        })
    }

    /// The caller's ability in a topic, or the mean of their topics' abilities in a course (weighted by answers);
    /// 0 before any completed exam there.
    async fn ability_in(&self, user_id: &str, scope: &Scope) -> Result<f64> {
        let abilities: Vec<Ability> = match scope {
            Scope::Topic(topic) => self
                .table()
                .get(&Ability::key_of(user_id, topic))
                .await?
                .map(Ability::from_item)
                .transpose()?
                .into_iter()
                .collect(),
            Scope::Course(course) => {
                // One partition per learner, one item per topic they answered in.
                let page = self
                    .table()
                    .query(Ability::INFO.query(&[user_id]).limit(1000))
                    .await?;
                page.items
                    .into_iter()
                    .map(Ability::from_item)
                    .filter(|a| a.as_ref().map_or(true, |a| &a.course_id == course))
                    .collect::<std::result::Result<_, _>>()?
            }
        };
        let answers: u64 = abilities.iter().map(|a| a.answers).sum();
        if answers == 0 {
            return Ok(0.0);
        }
        Ok(abilities
            .iter()
            .map(|a| a.theta * a.answers as f64)
            .sum::<f64>()
            / answers as f64)
    }

    /// Adds what was served to the session (conditioned on the version read, so two draws in one session
    /// cannot both serve the same question) and records each as seen, in one transaction.
    async fn record_served(
        &self,
        viewer: &Viewer,
        session: Option<&SelectionSession>,
        session_id: &str,
        picked: &[&(PoolEntry, u64)],
        now: i64,
    ) -> Result<()> {
        let mut served = session.map(|s| s.served.clone()).unwrap_or_default();
        served.extend(picked.iter().map(|(e, _)| e.question_id.clone()));
        let next = SelectionSession {
            session_id: session_id.to_string(),
            user_id: viewer.user_id.clone(),
            served,
            version: session.map_or(1, |s| s.version + 1),
            updated_at: now,
        };
        let condition = match session {
            Some(s) => Condition::equals("version", s.version),
            None => Condition::NotExists,
        };
        let mut ops = vec![TxOp::Put {
            item: next.to_item()?,
            condition,
        }];
        for (entry, times) in picked {
            ops.push(TxOp::Put {
                item: Seen::sighting(&viewer.user_id, entry, *times, now).to_item()?,
                condition: Condition::Always,
            });
        }
        match self.table().transact(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                Err(ExamError::InvalidState(
                    "another draw in this session ran at the same time; draw again".into(),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }
}
