//! `GET /v1/questions`: filters answered from the listing partitions, never by scanning.
//!
//! A list reads one partition: the most selective facet given (topic, then course, tag, subject, level, else
//! `all`) in the status asked for. Difficulty, and type after it, narrow the sort key. The filters left over (say
//! a tag when a topic drives) are checked on the summaries read, and a request reads at most
//! [`MAX_ROUNDS`] × [`ROUND`] summaries: when the filters are that unselective within the partition the page may
//! come back short (even empty) with a `next_cursor` to continue, instead of the request reading on without
//! bound. The cursor is the sort key of the last summary read, signed by the caller's list scope.

use lectern_shared::table::{Entity, SortKey};

use crate::Exams;
use crate::errors::Result;
use crate::questions::model::{Difficulty, QuestionType, Status};
use crate::questions::store::{ALL, LISTING_SORT, Listing};

/// Summaries read per table query when other filters are left to check.
pub const ROUND: usize = 100;
/// Table queries per request at most.
pub const MAX_ROUNDS: usize = 4;

/// What a list asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub status: Option<Status>,
    pub topic_id: Option<String>,
    pub course_id: Option<String>,
    pub level: Option<u16>,
    pub subject: Option<String>,
    pub tag: Option<String>,
    pub difficulty: Option<Difficulty>,
    pub kind: Option<QuestionType>,
}

impl Filter {
    /// The partition to read: `(facet, value)`.
    pub fn driver(&self) -> (&'static str, String) {
        if let Some(t) = &self.topic_id {
            ("topic", t.clone())
        } else if let Some(c) = &self.course_id {
            ("course", c.clone())
        } else if let Some(t) = &self.tag {
            ("tag", t.clone())
        } else if let Some(s) = &self.subject {
            ("subject", s.clone())
        } else if let Some(l) = self.level {
            ("level", l.to_string())
        } else {
            ("all", ALL.to_string())
        }
    }

    /// The sort-key prefix: difficulty, then type when a difficulty is given.
    fn prefix(&self) -> Option<String> {
        let difficulty = self.difficulty?;
        Some(match self.kind {
            Some(kind) => LISTING_SORT.prefix(&[difficulty.as_str(), kind.as_str()]),
            None => LISTING_SORT.prefix(&[difficulty.as_str()]),
        })
    }

    /// Whether a summary passes every filter (the driving ones hold by construction; checked anyway).
    pub fn accepts(&self, l: &Listing) -> bool {
        self.topic_id.as_ref().is_none_or(|t| *t == l.topic_id)
            && self.course_id.as_ref().is_none_or(|c| *c == l.course_id)
            && self.level.is_none_or(|v| v == l.level)
            && self
                .subject
                .as_ref()
                .is_none_or(|s| l.subject.as_ref() == Some(s))
            && self.tag.as_ref().is_none_or(|t| l.tags.contains(t))
            && self.difficulty.is_none_or(|d| d == l.difficulty)
            && self.kind.is_none_or(|k| k == l.kind)
    }

    /// Whether the partition and prefix alone answer the filter (then one query of `limit` is enough).
    fn exact(&self) -> bool {
        let (facet, _) = self.driver();
        let others = [
            self.topic_id.is_some() && facet != "topic",
            self.course_id.is_some() && facet != "course",
            self.tag.is_some() && facet != "tag",
            self.subject.is_some() && facet != "subject",
            self.level.is_some() && facet != "level",
            self.kind.is_some() && self.difficulty.is_none(),
        ];
        !others.iter().any(|o| *o)
    }

    /// The status read (`approved` unless asked).
    pub fn status(&self) -> Status {
        self.status.unwrap_or(Status::Approved)
    }
}

/// The sort-key condition of one round: within the prefix, after `after`.
fn range(prefix: Option<&str>, after: Option<&str>) -> SortKey {
    // Sort keys end with a 26-character id, so nothing sorts between `<key>` and `<key>!`; and every character
    // of a sort key (lowercase names, `_`, `#`, Crockford digits) sorts below `~`.
    match (prefix, after) {
        (None, None) => SortKey::Any,
        (Some(p), None) => SortKey::BeginsWith(p.to_string()),
        (None, Some(a)) => SortKey::GreaterThan(a.to_string()),
        (Some(p), Some(a)) => SortKey::Between(format!("{a}!"), format!("{p}~")),
    }
}

impl Exams {
    /// One page of summaries matching `filter`, after the position `after` (the sort key of the last summary
    /// read). Answers the summaries and the position to continue from, if any.
    pub async fn list_questions(
        &self,
        filter: &Filter,
        limit: usize,
        after: Option<String>,
    ) -> Result<(Vec<Listing>, Option<String>)> {
        let (facet, value) = filter.driver();
        let status = filter.status();
        let prefix = filter.prefix();
        let exact = filter.exact();
        let mut found = Vec::new();
        let mut position = after;
        let rounds = if exact { 1 } else { MAX_ROUNDS };
        for _ in 0..rounds {
            let want = if exact { limit } else { ROUND };
            let query = Listing::INFO
                .query(&[status.as_str(), facet, &value])
                .sk(range(prefix.as_deref(), position.as_deref()))
                .limit(want);
            let page = self.table().query(query).await?;
            let more = page.cursor.is_some();
            for item in page.items {
                let listing = Listing::from_item(item)?;
                position = Some(Listing::INFO.primary.sk.build(&[
                    listing.difficulty.as_str(),
                    listing.kind.as_str(),
                    &listing.question_id,
                ]));
                if filter.accepts(&listing) {
                    found.push(listing);
                    if found.len() == limit {
                        return Ok((found, position));
                    }
                }
            }
            if !more {
                return Ok((found, None));
            }
        }
        Ok((found, position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_selective_facet_drives() {
        let mut f = Filter {
            level: Some(200),
            tag: Some("algebra".into()),
            ..Filter::default()
        };
        assert_eq!(f.driver(), ("tag", "algebra".into()));
        assert!(!f.exact(), "the level is left to check");
        f.topic_id = Some("T".into());
        assert_eq!(f.driver().0, "topic");
        let only = Filter {
            course_id: Some("C".into()),
            difficulty: Some(Difficulty::Hard),
            ..Filter::default()
        };
        assert!(only.exact());
        assert_eq!(only.prefix().as_deref(), Some("hard#"));
        let typed = Filter {
            kind: Some(QuestionType::Numeric),
            ..Filter::default()
        };
        assert!(
            !typed.exact(),
            "a type without a difficulty is not a prefix"
        );
    }
}
