//! Certificates of passed certifying exams: the owner reads theirs (JSON or PDF) and chooses what the public
//! verification shows; anyone verifies one and reads the public keys without signing in; admins revoke.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use lectern_accounts::audit::{Action, AuditLog};
use lectern_accounts::permissions::perm;
use lectern_exams::ExamError;
use lectern_exams::certificates::{
    CertificateView, PublicKeys, RevokeCertificate, ShareSettings, Verification,
};
use lectern_shared::http::auth::SessionIdentity;
use lectern_shared::http::client::ClientInfo;
use lectern_shared::http::{Json, Path};
use lectern_shared::ids::Id;
use lectern_shared::pdf;
use lectern_shared::table::Entity;

use crate::{Ex, Result, learner};

/// One of the caller's certificates: what it says, its signature and the exact text signed. With
/// `Accept: application/pdf`, the certificate as a one-page PDF.
#[utoipa::path(get, path = "/v1/certificates/{certificate_id}", tag = "certificates", security(("bearer" = [])),
    params(("certificate_id" = inline(Id), Path, description = "The certifying exam's id")), responses(
    (status = 200, description = "The certificate", content(
        (CertificateView = "application/json"),
        (Vec<u8> = "application/pdf"))),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such certificate of yours (none is issued for an exam that was not a passed certifying one)")))]
pub(crate) async fn get_certificate(
    State(exams): Ex,
    who: SessionIdentity,
    headers: HeaderMap,
    Path(certificate_id): Path<Id>,
) -> Result<Response> {
    let viewer = learner(&who)?;
    if pdf::wanted(&headers) {
        let bytes = exams
            .certificate_pdf(&viewer, certificate_id.as_str())
            .await?;
        return Ok(pdf::response(
            bytes,
            &format!("certificate-{certificate_id}.pdf"),
        ));
    }
    Ok(Json(exams.certificate(&viewer, certificate_id.as_str()).await?).into_response())
}

/// Choose what the public verification of your certificate shows besides its course, date and status (both off
/// until you turn them on).
#[utoipa::path(patch, path = "/v1/certificates/{certificate_id}", tag = "certificates", security(("bearer" = [])),
    params(("certificate_id" = inline(Id), Path)), request_body = ShareSettings, responses(
    (status = 200, body = CertificateView),
    (status = 400, description = "`validation`: neither `share_name` nor `share_score` given"),
    (status = 403, description = "`forbidden`: this needs `content:read`"),
    (status = 404, description = "No such certificate of yours")))]
pub(crate) async fn share_certificate(
    State(exams): Ex,
    who: SessionIdentity,
    Path(certificate_id): Path<Id>,
    Json(input): Json<ShareSettings>,
) -> Result<Json<CertificateView>> {
    let viewer = learner(&who)?;
    Ok(Json(
        exams
            .share_certificate(&viewer, certificate_id.as_str(), input)
            .await?,
    ))
}

/// Verify a certificate, without signing in: `valid`, `revoked` or `unknown`, with its course and date, and the
/// learner's name and score only where the learner shares them.
#[utoipa::path(get, path = "/v1/certificates/{certificate_id}/verify", tag = "certificates",
    params(("certificate_id" = inline(Id), Path)), responses(
    (status = 200, body = Verification)))]
pub(crate) async fn verify_certificate(
    State(exams): Ex,
    Path(certificate_id): Path<Id>,
) -> Result<Json<Verification>> {
    Ok(Json(
        exams.verify_certificate(certificate_id.as_str()).await?,
    ))
}

/// The public keys that verify certificates' signatures (JWK, Ed25519), and how the signed text is built: with
/// these a certificate is checked offline.
#[utoipa::path(get, path = "/v1/certificates/public-key", tag = "certificates",
    responses((status = 200, body = PublicKeys)))]
pub(crate) async fn public_keys(State(exams): Ex) -> Result<impl IntoResponse> {
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(exams.certificate_public_keys()?),
    ))
}

/// Revoke a certificate, with the reason (kept with it and in the audit log). Verification answers `revoked`
/// from then on. Needs `certificates:revoke` (admins).
#[utoipa::path(post, path = "/v1/admin/certificates/{certificate_id}/revoke", tag = "certificates", security(("bearer" = [])),
    params(("certificate_id" = inline(Id), Path)), request_body = RevokeCertificate, responses(
    (status = 200, body = CertificateView),
    (status = 400, description = "`validation`: no reason, or a reason over 1000 characters"),
    (status = 403, description = "`forbidden`: this needs `certificates:revoke`"),
    (status = 404, description = "No such certificate"),
    (status = 409, description = "`invalid-state`: revoked already")))]
pub(crate) async fn revoke_certificate(
    State(exams): Ex,
    client: ClientInfo,
    SessionIdentity(who): SessionIdentity,
    Path(certificate_id): Path<Id>,
    Json(input): Json<RevokeCertificate>,
) -> Result<Json<CertificateView>> {
    who.require(perm::CERTIFICATES_REVOKE)?;
    let now = exams.platform.clock.now();
    let audit = |revoked: &lectern_exams::certificates::Certificate| {
        let mut details = serde_json::Map::new();
        details.insert(
            "certificate_id".into(),
            revoked.certificate_id.clone().into(),
        );
        details.insert(
            "reason".into(),
            revoked.revocation_reason.clone().unwrap_or_default().into(),
        );
        AuditLog::event(
            Action::CertificateRevoked,
            Some(&who.user_id),
            &revoked.user_id,
            &client,
            now,
            details,
        )
        .to_item()
        .map_err(ExamError::from)
    };
    Ok(Json(
        exams
            .revoke_certificate(&who.user_id, certificate_id.as_str(), input, audit)
            .await?,
    ))
}
