//! Printable documents as PDF: lines of text flowing down A4 pages, written with `pdf-writer` in the base-14
//! Helvetica fonts every PDF reader carries — nothing is embedded, so a file is a few kilobytes and building one
//! takes microseconds. Enough for what Lectern prints (certificates, parent reports); not a layout engine.
//!
//! Limitation: the base-14 fonts draw WinAnsi (Latin-1) text only; other characters are drawn as `?`. The JSON a
//! document is printed from keeps them exactly.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

/// A4, in points.
const A4: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// The weight of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// A document being written: lines go down the page, and onto a new page when one is full.
pub struct Document {
    title: String,
    size: (f32, f32),
    frame: bool,
    pages: Vec<Content>,
    page: Content,
    y: f32,
}

impl Document {
    /// An A4 portrait document.
    pub fn portrait(title: &str) -> Self {
        Self::new(title, A4)
    }

    /// An A4 landscape document.
    pub fn landscape(title: &str) -> Self {
        Self::new(title, (A4.1, A4.0))
    }

    fn new(title: &str, size: (f32, f32)) -> Self {
        let mut doc = Self {
            title: title.to_string(),
            size,
            frame: false,
            pages: Vec::new(),
            page: Content::new(),
            y: 0.0,
        };
        doc.y = doc.top();
        doc
    }

    fn top(&self) -> f32 {
        self.size.1 - MARGIN
    }

    /// Draws a frame inside the margins of every page (certificates).
    pub fn framed(mut self) -> Self {
        self.frame = true;
        self.draw_frame();
        self
    }

    fn draw_frame(&mut self) {
        if self.frame {
            let inset = MARGIN / 2.0;
            self.page
                .set_line_width(2.0)
                .set_stroke_rgb(0.2, 0.3, 0.5)
                .rect(
                    inset,
                    inset,
                    self.size.0 - 2.0 * inset,
                    self.size.1 - 2.0 * inset,
                )
                .stroke();
        }
    }

    /// Leaves `points` of space.
    pub fn space(&mut self, points: f32) -> &mut Self {
        self.y -= points;
        self
    }

    /// One line of text at `size` points, then the usual line spacing. A line too long for the page is wrapped
    /// (by characters: what Lectern prints is short).
    pub fn line(&mut self, weight: Weight, size: f32, text: &str) -> &mut Self {
        // Helvetica averages about half an em per character.
        let per_line = (((self.size.0 - 2.0 * MARGIN) / (size * 0.5)) as usize).max(1);
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(per_line).take(64) {
            let height = size * 1.4;
            if self.y - height < MARGIN {
                self.new_page();
            }
            self.y -= height;
            let text: String = chunk.iter().collect();
            let font = match weight {
                Weight::Regular => REGULAR,
                Weight::Bold => BOLD,
            };
            self.page
                .begin_text()
                .set_font(font, size)
                .next_line(MARGIN, self.y)
                .show(Str(&win_ansi(&text)))
                .end_text();
        }
        if chars.is_empty() {
            self.y -= size * 1.4;
        }
        self
    }

    fn new_page(&mut self) {
        let full = std::mem::replace(&mut self.page, Content::new());
        self.pages.push(full);
        self.y = self.top();
        self.draw_frame();
    }

    /// The PDF file.
    pub fn finish(mut self) -> Vec<u8> {
        let last = std::mem::replace(&mut self.page, Content::new());
        self.pages.push(last);
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first_page = 6;
        let page_ids: Vec<Ref> = (0..self.pages.len() as i32)
            .map(|n| Ref::new(first_page + 2 * n))
            .collect();
        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(page_ids.len() as i32);
        for (id, base) in [(regular, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
            pdf.type1_font(id)
                .base_font(Name(base))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .producer(TextStr("Lectern"));
        for (page_id, content) in page_ids.iter().zip(self.pages) {
            let contents = Ref::new(page_id.get() + 1);
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, self.size.0, self.size.1));
            page.parent(tree);
            page.contents(contents);
            page.resources()
                .fonts()
                .pair(REGULAR, regular)
                .pair(BOLD, bold);
            page.finish();
            pdf.stream(contents, &content.finish());
        }
        pdf.finish()
    }
}

/// The media type.
pub const PDF: &str = "application/pdf";

/// Whether the client asked for a PDF: `application/pdf` in `Accept`, ahead of any JSON it also takes.
pub fn wanted(headers: &axum::http::HeaderMap) -> bool {
    let accept = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    match (accept.find(PDF), accept.find("application/json")) {
        (Some(pdf), Some(json)) => pdf < json,
        (Some(_), None) => true,
        _ => false,
    }
}

/// A PDF answer, shown inline under `filename` (letters, digits, `-`, `_` and `.`; anything else becomes `_`).
pub fn response(bytes: Vec<u8>, filename: &str) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let safe: String = filename
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "-_.".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!("inline; filename=\"{safe}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("inline"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(PDF)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

/// Text in WinAnsi (Windows-1252) bytes: ASCII and Latin-1 as themselves, everything else `?`.
pub fn win_ansi(text: &str) -> Vec<u8> {
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

    #[test]
    fn a_pdf_is_wanted_when_asked_for_ahead_of_json() {
        let accept = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(axum::http::header::ACCEPT, v.parse().unwrap());
            wanted(&h)
        };
        assert!(accept("application/pdf"));
        assert!(accept("application/pdf, application/json;q=0.5"));
        assert!(!accept("application/json, application/pdf"));
        assert!(!accept("*/*"));
        assert!(!wanted(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn a_long_document_flows_onto_more_pages() {
        let mut short = Document::portrait("Short");
        short.line(Weight::Bold, 20.0, "Title");
        let one = short.finish();
        assert!(one.starts_with(b"%PDF-"), "a PDF");
        let count = |pdf: &[u8]| {
            String::from_utf8_lossy(pdf)
                .matches("/Type /Page\n")
                .count()
                + String::from_utf8_lossy(pdf).matches("/Type /Page ").count()
        };
        let mut long = Document::portrait("Long").framed();
        for n in 0..100 {
            long.line(Weight::Regular, 11.0, &format!("line {n}"));
        }
        let many = long.finish();
        assert!(count(&many) > count(&one), "more pages");
        assert!(
            String::from_utf8_lossy(&many).contains("/Count 3"),
            "100 lines of 11 pt take three A4 pages"
        );
    }
}
