//! A certificate as a one-page PDF (A4 landscape, framed), written with the shared document writer
//! (`lectern_shared::pdf`): the page shows what the certificate says, its id, where to verify it and its
//! signature; the PDF itself is not signed (the signature is over the canonical form, which the page prints).
//!
//! Limitation: the base-14 fonts draw WinAnsi (Latin-1) text only; other characters of a name or course title are
//! drawn as `?` (the JSON certificate and its signature keep them exactly).

use lectern_shared::pdf::{Document, Weight};

use super::Certificate;

/// The PDF of a certificate. `verify_path` is where anyone checks it (`/v1/certificates/{id}/verify`).
pub fn render(certificate: &Certificate, verify_path: &str) -> Vec<u8> {
    let mut doc = Document::landscape("Certificate").framed();
    doc.space(40.0)
        .line(Weight::Bold, 30.0, "Certificate of achievement")
        .space(18.0)
        .line(Weight::Regular, 14.0, "This certifies that")
        .space(8.0)
        .line(Weight::Bold, 24.0, &certificate.learner_name)
        .space(8.0)
        .line(Weight::Regular, 14.0, "passed the certifying exam of")
        .space(8.0)
        .line(Weight::Bold, 20.0, &certificate.course_name)
        .space(8.0)
        .line(
            Weight::Regular,
            14.0,
            &format!(
                "with a score of {}% on {}.",
                certificate.score_percent, certificate.issued_on
            ),
        )
        .space(30.0)
        .line(
            Weight::Regular,
            9.0,
            &format!("Certificate {}", certificate.certificate_id),
        )
        .line(Weight::Regular, 9.0, &format!("Verify: {verify_path}"))
        .line(
            Weight::Regular,
            9.0,
            &format!(
                "Ed25519 signature (key {}) over the canonical form:",
                certificate.kid
            ),
        )
        .line(Weight::Regular, 7.0, &certificate.signature)
        // Long names make a long canonical form: the writer wraps it, so it stays on the page.
        .line(Weight::Regular, 7.0, &certificate.canonical());
    doc.finish()
}
