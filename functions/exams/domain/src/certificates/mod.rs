//! Certificates: passing a certifying exam issues one, signed, that anyone can check.
//!
//! - **Who certifies.** A learner asks for it at start (`certifying: true`), and only a timed exam drawn from a
//!   course may be certifying: the certificate names that course, and a timed draw is the one mode whose answers
//!   are not revealed as the learner goes (practice shows what was right after each answer, and an explicit list of
//!   questions could be chosen by the learner). Passing is the exam's own pass mark, decided when its result is
//!   final (after the last essay is graded, if any).
//! - **Issued once.** The transaction that completes a passed certifying exam also writes an
//!   `exams.issue-certificate` job to the outbox; the jobs worker reads the learner's display name at that moment
//!   (through [`LearnerNames`], which the worker implements on the accounts domain: this library never imports it),
//!   signs and writes the certificate with a conditional put. The certificate's id is the exam's id, so a
//!   redelivered job, or two racing, find it written and issue nothing more. A grade changed after the exam was
//!   complete sends the job again when the exam now passes: a failed exam regraded to a pass earns its
//!   certificate, and one issued already stands as issued (a pass regraded to a fail is for an admin to revoke).
//! - **Signed.** Ed25519 (keys in [`keys`]) over the canonical form ([`Certificate::canonical`]): the JSON object
//!   of `certificate_id`, `course_id`, `course_name`, `issued_on`, `kid`, `learner_name`, `score_percent` and `v`
//!   (= 1), keys sorted, no white space — RFC 8785 (JCS) for these values, so any JCS library rebuilds the same
//!   bytes. With the published public key (`GET /v1/certificates/public-key`) the signature verifies offline.
//! - **Seen by whom.** The owner reads the whole certificate (JSON, or a PDF with `Accept: application/pdf`);
//!   another learner gets a 404. `GET /v1/certificates/{id}/verify` needs no sign-in and answers `valid`, `revoked`
//!   or `unknown` with the course and date; the name and the score only when the owner shares them
//!   (`PATCH /v1/certificates/{id}`, both off by default).
//! - **Revoked** by an admin with a reason, audited in the same transaction (the function crate builds the audit
//!   record: this library does not know the accounts' audit log). A revoked certificate stays, saying so.
//! - **Erased** with the learner's other exam data ([`crate::erasure`]), found under them on gsi1.

pub mod keys;
pub mod pdf;

use async_trait::async_trait;
use lectern_messages::exams::IssueCertificate;
use lectern_shared::queue::NewJob;
use lectern_shared::queue::outbox::OutboxEntry;
use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Item, Key, KeyLayout, Shape,
    TableError, TxOp,
};
use serde::{Deserialize, Serialize};

use crate::errors::{ExamError, Result};
use crate::exams::store::{Exam, ExamStatus, at_label};
use crate::hierarchy::Node;
use crate::questions::moderation::MAX_REASON;
use crate::{Exams, Viewer, text};

pub use keys::{CertificateKeys, PublicKey};

/// Whether a certificate still stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    Valid,
    /// An admin withdrew it (it stays, saying so).
    Revoked,
}

impl CertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Valid => "valid",
            CertificateStatus::Revoked => "revoked",
        }
    }
}

/// A certificate (`CERT#<certificate_id>` / `CERT`; under its learner on gsi1 `CERTS#<user_id>` /
/// `<issued_at>#<certificate_id>`, for the eraser).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    /// The exam's id: one certificate per exam.
    pub certificate_id: String,
    pub user_id: String,
    pub exam_id: String,
    /// The learner's display name when it was issued.
    pub learner_name: String,
    pub course_id: String,
    /// The course's name when it was issued.
    pub course_name: String,
    /// The score in whole percent, rounded down (so never shown above what was earned).
    pub score_percent: u8,
    pub issued_at: i64,
    /// `YYYY-MM-DD` (UTC) of `issued_at`.
    pub issued_on: String,
    /// The certificates key that signed it.
    pub kid: String,
    /// Ed25519 over [`Certificate::canonical`], base64url without padding.
    pub signature: String,
    pub status: CertificateStatus,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
    pub revocation_reason: Option<String>,
    /// Whether the public verification shows the learner's name.
    pub share_name: bool,
    /// Whether the public verification shows the score.
    pub share_score: bool,
}

const CERT: Shape = Shape::new("CERT", &["certificate_id"]);

/// A learner's certificates (what the eraser deletes).
pub const CERTIFICATES_BY_USER: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("CERTS", &["user_id"]),
        Shape::values(&["issued_at", "certificate_id"]),
    ),
);

impl Entity for Certificate {
    const INFO: EntityInfo =
        EntityInfo::new("certificate", KeyLayout::new(CERT, Shape::fixed("CERT")))
            .indexed(&[CERTIFICATES_BY_USER]);

    fn key(&self) -> Key {
        Self::key_of(&self.certificate_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![CERTIFICATES_BY_USER.key(
            &[&self.user_id],
            &[&at_label(self.issued_at), &self.certificate_id],
        )]
    }
}

/// What is signed, fields in the order of their names (so serde writes JCS's sorted keys).
#[derive(Serialize)]
struct Canonical<'a> {
    certificate_id: &'a str,
    course_id: &'a str,
    course_name: &'a str,
    issued_on: &'a str,
    kid: &'a str,
    learner_name: &'a str,
    score_percent: u8,
    v: u8,
}

/// The version of the canonical form.
pub const CANONICAL_VERSION: u8 = 1;

/// How the canonical form is built, for the published key's readers.
pub const CANONICAL_FORM: &str = "RFC 8785 (JCS) of the JSON object {certificate_id, course_id, course_name, issued_on, kid, learner_name, score_percent, v: 1}: keys sorted, no white space, UTF-8; the signature is Ed25519 over those bytes, base64url without padding";

impl Certificate {
    pub fn key_of(certificate_id: &str) -> Key {
        Self::INFO.key(&[certificate_id], &[])
    }

    /// The exact text the signature covers (see [`CANONICAL_FORM`]).
    pub fn canonical(&self) -> String {
        let form = Canonical {
            certificate_id: &self.certificate_id,
            course_id: &self.course_id,
            course_name: &self.course_name,
            issued_on: &self.issued_on,
            kid: &self.kid,
            learner_name: &self.learner_name,
            score_percent: self.score_percent,
            v: CANONICAL_VERSION,
        };
        // Strings and a small integer: serializing cannot fail.
        serde_json::to_string(&form).unwrap_or_default()
    }

    fn view(&self) -> CertificateView {
        CertificateView {
            certificate_id: self.certificate_id.clone(),
            exam_id: self.exam_id.clone(),
            learner_name: self.learner_name.clone(),
            course_id: self.course_id.clone(),
            course_name: self.course_name.clone(),
            score_percent: self.score_percent,
            issued_on: self.issued_on.clone(),
            issued_at: self.issued_at,
            status: self.status,
            revoked_at: self.revoked_at,
            revocation_reason: self.revocation_reason.clone(),
            share_name: self.share_name,
            share_score: self.share_score,
            signature: SignatureView {
                alg: "EdDSA",
                kid: self.kid.clone(),
                value: self.signature.clone(),
            },
            canonical: self.canonical(),
            verify_path: verify_path(&self.certificate_id),
        }
    }
}

/// Where anyone checks a certificate.
pub fn verify_path(certificate_id: &str) -> String {
    format!("/v1/certificates/{certificate_id}/verify")
}

/// A certificate's signature.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SignatureView {
    /// Always `EdDSA` (Ed25519).
    pub alg: &'static str,
    /// The published key that verifies it (`GET /v1/certificates/public-key`).
    pub kid: String,
    /// base64url, no padding.
    pub value: String,
}

/// A certificate as its owner (or an admin) sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    pub certificate_id: String,
    pub exam_id: String,
    pub learner_name: String,
    pub course_id: String,
    pub course_name: String,
    /// Whole percent, rounded down.
    pub score_percent: u8,
    /// `YYYY-MM-DD`, UTC.
    pub issued_on: String,
    pub issued_at: i64,
    pub status: CertificateStatus,
    pub revoked_at: Option<i64>,
    pub revocation_reason: Option<String>,
    pub share_name: bool,
    pub share_score: bool,
    pub signature: SignatureView,
    /// The exact UTF-8 text signed: rebuild it from the fields above (RFC 8785) to check it says what they say.
    pub canonical: String,
    /// The public verification route of this certificate.
    pub verify_path: String,
}

/// What the public verification says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Valid,
    Revoked,
    /// No such certificate (or none this server can vouch for).
    Unknown,
}

/// The public answer about a certificate: its status, course and date; the name and score only when shared.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Verification {
    pub certificate_id: String,
    pub status: VerificationStatus,
    pub course_name: Option<String>,
    pub issued_on: Option<String>,
    pub revoked_at: Option<i64>,
    /// Only when the learner shares it.
    pub learner_name: Option<String>,
    /// Only when the learner shares it.
    pub score_percent: Option<u8>,
}

/// `PATCH /v1/certificates/{id}`: what the public verification shows beyond the course, date and status.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareSettings {
    #[serde(default)]
    pub share_name: Option<bool>,
    #[serde(default)]
    pub share_score: Option<bool>,
}

/// `POST /v1/admin/certificates/{id}/revoke`.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeCertificate {
    /// Why, kept with the certificate and in the audit log.
    #[schema(schema_with = crate::schema::reason)]
    pub reason: String,
}

/// The published keys that verify certificates.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicKeys {
    /// The active key first; earlier keys stay while certificates they signed exist.
    pub keys: Vec<PublicKey>,
    /// How the signed text is built from a certificate's fields.
    pub canonical_form: &'static str,
}

/// The learner's display name at issue time. The jobs worker implements it on the accounts domain (this library
/// never depends on it); `None` when the account is gone.
#[async_trait]
pub trait LearnerNames: Send + Sync {
    async fn display_name(&self, user_id: &str) -> std::result::Result<Option<String>, String>;
}

/// `YYYY-MM-DD` of epoch seconds, UTC.
fn date_of(at: i64) -> String {
    let day = time::OffsetDateTime::from_unix_timestamp(at)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

impl Exams {
    fn certificate_keys(&self) -> Result<&CertificateKeys> {
        self.certificate_keys.as_deref().ok_or_else(|| {
            ExamError::Unavailable(
                "certificate keys are not configured for this function (LECTERN_SECRET_CERTIFICATES)".into(),
            )
        })
    }

    /// The job that issues a passed certifying exam's certificate, for the outbox of the transaction that
    /// completes it (nothing for any other exam).
    pub(crate) fn certificate_due(&self, exam: &Exam) -> Result<Option<OutboxEntry>> {
        if exam.certifies_course.is_none() || exam.passed() != Some(true) {
            return Ok(None);
        }
        let mut job = NewJob::new(&IssueCertificate {
            exam_id: exam.exam_id.clone(),
        })
        .map_err(|e| ExamError::Internal(e.to_string()))?;
        job.job.idempotency_key = Some(format!("issue-certificate:{}", exam.exam_id));
        let entry =
            OutboxEntry::new::<IssueCertificate>(job, self.epoch(), &self.platform.outbox_key)
                .map_err(|e| ExamError::Internal(e.to_string()))?;
        Ok(Some(entry))
    }

    /// Issues the certificate of a completed, passed certifying exam, once: answers it (as stored, when it was
    /// issued before), or `None` when the exam earns none or its learner's account is gone.
    pub async fn issue_certificate(
        &self,
        exam_id: &str,
        names: &dyn LearnerNames,
    ) -> Result<Option<Certificate>> {
        if let Some(existing) = self.stored_certificate(exam_id).await? {
            return Ok(Some(existing));
        }
        let exam = match self.exam(exam_id).await {
            Ok(exam) => exam,
            Err(ExamError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(course_id) = exam.certifies_course.clone() else {
            return Ok(None);
        };
        if exam.status != ExamStatus::Completed || exam.passed() != Some(true) {
            return Ok(None);
        }
        let Some(learner_name) = names
            .display_name(&exam.user_id)
            .await
            .map_err(ExamError::Internal)?
        else {
            tracing::info!(exam_id, "no certificate: the learner's account is gone");
            return Ok(None);
        };
        // The course's name as it is now; a course deleted since (it had no questions left) keeps its id.
        let course_name = match self.table().get(&Node::key_of(&course_id)).await? {
            Some(item) => Node::from_item(item)?.name,
            None => course_id.clone(),
        };
        let keys = self.certificate_keys()?;
        let now = self.epoch();
        let mut certificate = Certificate {
            certificate_id: exam.exam_id.clone(),
            user_id: exam.user_id.clone(),
            exam_id: exam.exam_id.clone(),
            learner_name,
            course_id,
            course_name,
            score_percent: exam.percent().map_or(0, |p| (p + 1e-9).floor() as u8),
            issued_at: now,
            issued_on: date_of(now),
            kid: String::new(),
            signature: String::new(),
            status: CertificateStatus::Valid,
            revoked_at: None,
            revoked_by: None,
            revocation_reason: None,
            share_name: false,
            share_score: false,
        };
        // The signed text names the key, so the key id is set before signing.
        certificate.kid = keys.active_kid().to_string();
        let (kid, signature) = keys
            .sign(certificate.canonical().as_bytes())
            .ok_or_else(|| ExamError::Internal("an empty certificates ring".into()))?;
        debug_assert_eq!(kid, certificate.kid);
        certificate.signature = signature;
        match self
            .table()
            .put(certificate.to_item()?, Condition::NotExists)
            .await
        {
            Ok(()) => {
                tracing::info!(exam_id, "certificate issued");
                Ok(Some(certificate))
            }
            // Another run issued it first: that one stands.
            Err(TableError::ConditionFailed) => self.stored_certificate(exam_id).await,
            Err(e) => Err(e.into()),
        }
    }

    async fn stored_certificate(&self, certificate_id: &str) -> Result<Option<Certificate>> {
        match self
            .table()
            .get(&Certificate::key_of(certificate_id))
            .await?
        {
            Some(item) => Ok(Some(Certificate::from_item(item)?)),
            None => Ok(None),
        }
    }

    /// A certificate of the caller (404 for anyone else's).
    async fn own_certificate(&self, viewer: &Viewer, certificate_id: &str) -> Result<Certificate> {
        match self.stored_certificate(certificate_id).await? {
            Some(c) if c.user_id == viewer.user_id => Ok(c),
            _ => Err(ExamError::NotFound("certificate")),
        }
    }

    /// The caller's certificate.
    pub async fn certificate(
        &self,
        viewer: &Viewer,
        certificate_id: &str,
    ) -> Result<CertificateView> {
        Ok(self.own_certificate(viewer, certificate_id).await?.view())
    }

    /// The caller's certificate as a PDF.
    pub async fn certificate_pdf(&self, viewer: &Viewer, certificate_id: &str) -> Result<Vec<u8>> {
        let certificate = self.own_certificate(viewer, certificate_id).await?;
        Ok(pdf::render(
            &certificate,
            &verify_path(&certificate.certificate_id),
        ))
    }

    /// Changes what the public verification of the caller's certificate shows.
    pub async fn share_certificate(
        &self,
        viewer: &Viewer,
        certificate_id: &str,
        input: ShareSettings,
    ) -> Result<CertificateView> {
        if input.share_name.is_none() && input.share_score.is_none() {
            return Err(ExamError::field(
                "share_name",
                "give share_name, share_score or both",
            ));
        }
        let mut certificate = self.own_certificate(viewer, certificate_id).await?;
        let mut update = Certificate::INFO.update();
        if let Some(share) = input.share_name {
            update = update.set("share_name", share);
            certificate.share_name = share;
        }
        if let Some(share) = input.share_score {
            update = update.set("share_score", share);
            certificate.share_score = share;
        }
        // Conditioned on the owner, so an erased-and-gone certificate is not recreated by the update.
        match self
            .table()
            .update(
                &certificate.key(),
                update,
                Condition::equals("user_id", viewer.user_id.as_str()),
            )
            .await
        {
            Ok(item) => Ok(Certificate::from_item(item)?.view()),
            Err(TableError::ConditionFailed) => Err(ExamError::NotFound("certificate")),
            Err(e) => Err(e.into()),
        }
    }

    /// What anyone may know of a certificate (no sign-in): its status, course and date, and what its learner shares.
    /// A certificate whose signature does not verify with this server's keys is `unknown`: it cannot vouch for it.
    pub async fn verify_certificate(&self, certificate_id: &str) -> Result<Verification> {
        let keys = self.certificate_keys()?;
        let unknown = Verification {
            certificate_id: certificate_id.to_string(),
            status: VerificationStatus::Unknown,
            course_name: None,
            issued_on: None,
            revoked_at: None,
            learner_name: None,
            score_percent: None,
        };
        let Some(c) = self.stored_certificate(certificate_id).await? else {
            return Ok(unknown);
        };
        if !keys.verify(&c.kid, c.canonical().as_bytes(), &c.signature) {
            tracing::error!(
                certificate_id,
                kid = %c.kid,
                "a stored certificate does not verify (changed in the table, or its key left the ring)"
            );
            return Ok(unknown);
        }
        Ok(Verification {
            certificate_id: c.certificate_id.clone(),
            status: match c.status {
                CertificateStatus::Valid => VerificationStatus::Valid,
                CertificateStatus::Revoked => VerificationStatus::Revoked,
            },
            course_name: Some(c.course_name.clone()),
            issued_on: Some(c.issued_on.clone()),
            revoked_at: c.revoked_at,
            learner_name: c.share_name.then(|| c.learner_name.clone()),
            score_percent: c.share_score.then_some(c.score_percent),
        })
    }

    /// An admin revokes a certificate, with a reason. `audit` makes the audit record of the revocation (the
    /// function crate's, from the accounts' audit log), committed in the same transaction.
    pub async fn revoke_certificate(
        &self,
        admin_id: &str,
        certificate_id: &str,
        input: RevokeCertificate,
        audit: impl FnOnce(&Certificate) -> Result<Item>,
    ) -> Result<CertificateView> {
        let reason = text::trimmed("reason", &input.reason, MAX_REASON)?;
        let certificate = self
            .stored_certificate(certificate_id)
            .await?
            .ok_or(ExamError::NotFound("certificate"))?;
        if certificate.status == CertificateStatus::Revoked {
            return Err(ExamError::InvalidState(
                "the certificate is revoked already".into(),
            ));
        }
        let now = self.epoch();
        let revoked = Certificate {
            status: CertificateStatus::Revoked,
            revoked_at: Some(now),
            revoked_by: Some(admin_id.to_string()),
            revocation_reason: Some(reason.clone()),
            ..certificate.clone()
        };
        let update = Certificate::INFO
            .update()
            .set("status", CertificateStatus::Revoked.as_str())
            .set("revoked_at", now)
            .set("revoked_by", admin_id)
            .set("revocation_reason", reason);
        let ops = vec![
            TxOp::Update {
                key: certificate.key(),
                update,
                condition: Condition::equals("status", CertificateStatus::Valid.as_str()),
            },
            TxOp::Put {
                item: audit(&revoked)?,
                condition: Condition::NotExists,
            },
        ];
        match self.table().transact(ops).await {
            Ok(()) => Ok(revoked.view()),
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => Err(
                ExamError::InvalidState("the certificate was revoked meanwhile".into()),
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// The public keys that verify certificates.
    pub fn certificate_public_keys(&self) -> Result<PublicKeys> {
        Ok(PublicKeys {
            keys: self.certificate_keys()?.published(),
            canonical_form: CANONICAL_FORM,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate() -> Certificate {
        Certificate {
            certificate_id: "01JEXAM0000000000000000000".into(),
            user_id: "01JLEARNER0000000000000000".into(),
            exam_id: "01JEXAM0000000000000000000".into(),
            learner_name: "Ada \"the\" Lovelace\n".into(),
            course_id: "01JC0VRSE00000000000000000".into(),
            course_name: "Analysis I".into(),
            score_percent: 85,
            issued_at: 1_900_000_000,
            issued_on: date_of(1_900_000_000),
            kid: "k1".into(),
            signature: String::new(),
            status: CertificateStatus::Valid,
            revoked_at: None,
            revoked_by: None,
            revocation_reason: None,
            share_name: false,
            share_score: false,
        }
    }

    #[test]
    fn the_canonical_form_is_sorted_compact_json_of_what_the_certificate_says() {
        let c = certificate();
        assert_eq!(
            c.canonical(),
            r#"{"certificate_id":"01JEXAM0000000000000000000","course_id":"01JC0VRSE00000000000000000","course_name":"Analysis I","issued_on":"2030-03-17","kid":"k1","learner_name":"Ada \"the\" Lovelace\n","score_percent":85,"v":1}"#
        );
        // The same bytes as any sorted-keys serializer makes from the fields (what an offline verifier does).
        let rebuilt = serde_json::to_string(&serde_json::json!({
            "v": 1, "score_percent": 85, "learner_name": c.learner_name, "kid": "k1", "issued_on": c.issued_on,
            "course_name": c.course_name, "course_id": c.course_id, "certificate_id": c.certificate_id,
        }))
        .unwrap();
        assert_eq!(rebuilt, c.canonical());
        // Revocation and sharing are not what the certificate says: they change nothing signed.
        let revoked = Certificate {
            status: CertificateStatus::Revoked,
            share_name: true,
            ..c.clone()
        };
        assert_eq!(revoked.canonical(), c.canonical());
    }
}
