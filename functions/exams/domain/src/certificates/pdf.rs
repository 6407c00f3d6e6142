//! A certificate as a one-page PDF (A4 landscape), written with `pdf-writer`: the base-14 Helvetica fonts every
//! PDF reader carries, so nothing is embedded and the file stays a few kilobytes. The page shows what the
//! certificate says, its id, where to verify it and its signature; the PDF itself is not signed (the signature is
//! over the canonical form, which the page prints).
//!
//! Limitation: the base-14 fonts draw WinAnsi (Latin-1) text only; other characters of a name or course title are
//! drawn as `?` (the JSON certificate and its signature keep them exactly).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::Certificate;

const WIDTH: f32 = 842.0;
const HEIGHT: f32 = 595.0;
const MARGIN: f32 = 72.0;

/// The PDF of a certificate. `verify_path` is where anyone checks it (`/v1/certificates/{id}/verify`).
pub fn render(certificate: &Certificate, verify_path: &str) -> Vec<u8> {
    let catalog = Ref::new(1);
    let pages = Ref::new(2);
    let page_id = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);
    let (regular_name, bold_name) = (Name(b"F1"), Name(b"F2"));

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
    page.parent(pages);
    page.contents(contents);
    page.resources()
        .fonts()
        .pair(regular_name, regular)
        .pair(bold_name, bold);
    page.finish();
    for (id, base) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(base))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.document_info(info)
        .title(TextStr("Certificate"))
        .producer(TextStr("Lectern"));

    let mut content = Content::new();
    // A frame.
    content
        .set_line_width(2.0)
        .set_stroke_rgb(0.2, 0.3, 0.5)
        .rect(36.0, 36.0, WIDTH - 72.0, HEIGHT - 72.0)
        .stroke();
    let mut y = HEIGHT - 130.0;
    let mut line = |content: &mut Content, font: Name, size: f32, text: &str, gap: f32| {
        content
            .begin_text()
            .set_font(font, size)
            .next_line(MARGIN, y)
            .show(Str(&win_ansi(text)))
            .end_text();
        y -= gap;
    };
    line(
        &mut content,
        bold_name,
        30.0,
        "Certificate of achievement",
        56.0,
    );
    line(
        &mut content,
        regular_name,
        14.0,
        "This certifies that",
        34.0,
    );
    line(
        &mut content,
        bold_name,
        24.0,
        &certificate.learner_name,
        40.0,
    );
    line(
        &mut content,
        regular_name,
        14.0,
        "passed the certifying exam of",
        34.0,
    );
    line(
        &mut content,
        bold_name,
        20.0,
        &certificate.course_name,
        36.0,
    );
    line(
        &mut content,
        regular_name,
        14.0,
        &format!(
            "with a score of {}% on {}.",
            certificate.score_percent, certificate.issued_on
        ),
        60.0,
    );
    line(
        &mut content,
        regular_name,
        9.0,
        &format!("Certificate {}", certificate.certificate_id),
        14.0,
    );
    line(
        &mut content,
        regular_name,
        9.0,
        &format!("Verify: {verify_path}"),
        14.0,
    );
    line(
        &mut content,
        regular_name,
        9.0,
        &format!(
            "Ed25519 signature (key {}) over the canonical form:",
            certificate.kid
        ),
        12.0,
    );
    line(
        &mut content,
        regular_name,
        7.0,
        &certificate.signature,
        12.0,
    );
    // Long names make a long canonical form: wrapped, so it stays on the page.
    let canonical: Vec<char> = certificate.canonical().chars().collect();
    for chunk in canonical.chunks(170) {
        line(
            &mut content,
            regular_name,
            7.0,
            &chunk.iter().collect::<String>(),
            10.0,
        );
    }
    pdf.stream(contents, &content.finish());
    pdf.finish()
}

/// Text in WinAnsi (Windows-1252) bytes: ASCII and Latin-1 as themselves, everything else `?` (see the module doc).
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u32::from(c) {
            0x20..=0x7e | 0xa0..=0xff => c as u8,
            _ => b'?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_keeps_its_letters_and_the_rest_becomes_question_marks() {
        assert_eq!(win_ansi("José Ünal"), b"Jos\xe9 \xdcnal");
        assert_eq!(win_ansi("李 (x)\n"), b"? (x)?");
    }
}
