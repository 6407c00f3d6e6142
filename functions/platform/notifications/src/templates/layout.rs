//! The one base layout, in HTML and plain text. HTML uses tables and inline styles because that is what mail
//! clients render consistently; it loads nothing from outside (no images, fonts or stylesheets), keeps a light
//! colour scheme with AA contrast, and marks itself up for screen readers. Every value is escaped here.

use std::fmt::Write;

use super::content::{Block, Content, Context, Inline};
use super::escape::escape_html as esc;

const FONT: &str = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const PAGE_BG: &str = "#f4f4f5";
const CARD_BG: &str = "#ffffff";
const TEXT: &str = "#27272a";
const MUTED: &str = "#52525b";
const ACCENT: &str = "#1d4ed8";

/// The HTML part.
pub(crate) fn html(
    lang: &str,
    cx: &Context<'_>,
    content: &Content,
    footer: &[Vec<Inline>],
) -> String {
    let mut body = String::new();
    for block in &content.blocks {
        html_block(&mut body, block);
    }
    let mut foot = String::new();
    for line in footer {
        let _ = write!(
            foot,
            r#"<p style="margin:0 0 8px;">{}</p>"#,
            html_inlines(line, MUTED)
        );
    }
    let lang = esc(lang);
    let subject = esc(&content.subject);
    format!(
        r#"<!DOCTYPE html>
<html lang="{lang}" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="supported-color-schemes" content="light">
<meta name="x-apple-disable-message-reformatting">
<title>{subject}</title>
</head>
<body style="margin:0;padding:0;background-color:{PAGE_BG};">
<div style="display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;mso-hide:all;font-size:1px;line-height:1px;color:{PAGE_BG};">{preheader}</div>
<div role="article" aria-roledescription="email" aria-label="{subject}" lang="{lang}" dir="ltr" style="background-color:{PAGE_BG};">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:{PAGE_BG};">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:560px;">
<tr><td style="padding:0 8px 16px;font-family:{FONT};font-size:20px;line-height:28px;font-weight:bold;color:{TEXT};">{product}</td></tr>
<tr><td style="background-color:{CARD_BG};border-radius:8px;padding:32px;font-family:{FONT};font-size:16px;line-height:24px;color:{TEXT};">
<h1 style="margin:0 0 16px;font-size:22px;line-height:30px;font-weight:bold;color:{TEXT};">{heading}</h1>
<p style="margin:0 0 16px;">{greeting}</p>
{body}</td></tr>
<tr><td style="padding:16px 8px;font-family:{FONT};font-size:13px;line-height:20px;color:{MUTED};">
{foot}</td></tr>
</table>
</td></tr>
</table>
</div>
</body>
</html>
"#,
        preheader = esc(&content.preheader),
        product = esc(cx.product()),
        heading = esc(&content.heading),
        greeting = esc(&content.greeting),
    )
}

fn html_block(out: &mut String, block: &Block) {
    let _ = match block {
        Block::Paragraph(inlines) => writeln!(
            out,
            r#"<p style="margin:0 0 16px;">{}</p>"#,
            html_inlines(inlines, ACCENT)
        ),
        // A table keeps the padded button clickable in Outlook; the label is the accessible name.
        Block::Button { label, href } => writeln!(
            out,
            r#"<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:8px 0 24px;"><tr><td style="border-radius:6px;background-color:{ACCENT};"><a href="{href}" target="_blank" rel="noopener" style="display:inline-block;padding:12px 24px;font-family:{FONT};font-size:16px;line-height:24px;font-weight:bold;color:#ffffff;text-decoration:none;border-radius:6px;">{label}</a></td></tr></table>"#,
            href = esc(href.target()),
            label = esc(label),
        ),
        Block::Code(code) => writeln!(
            out,
            r#"<p style="margin:0 0 16px;padding:12px 16px;background-color:{PAGE_BG};border-radius:6px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:24px;line-height:32px;letter-spacing:4px;font-weight:bold;text-align:center;">{}</p>"#,
            esc(code)
        ),
        Block::Facts(facts) => {
            let mut rows = String::new();
            for (label, value) in facts {
                let _ = write!(
                    rows,
                    r#"<tr><th scope="row" align="left" style="padding:4px 16px 4px 0;font-weight:normal;color:{MUTED};vertical-align:top;">{}</th><td style="padding:4px 0;color:{TEXT};">{}</td></tr>"#,
                    esc(label),
                    esc(value)
                );
            }
            writeln!(
                out,
                r#"<table cellpadding="0" cellspacing="0" border="0" style="margin:0 0 16px;font-family:{FONT};font-size:15px;line-height:22px;">{rows}</table>"#
            )
        }
        Block::Note(inlines) => writeln!(
            out,
            r#"<p style="margin:0 0 16px;font-size:14px;line-height:20px;color:{MUTED};overflow-wrap:anywhere;word-break:break-word;">{}</p>"#,
            html_inlines(inlines, ACCENT)
        ),
    };
}

fn html_inlines(inlines: &[Inline], link_colour: &str) -> String {
    let mut out = String::new();
    for inline in inlines {
        match inline {
            Inline::Text(text) => out.push_str(&esc(text)),
            Inline::Strong(text) => {
                let _ = write!(out, "<strong>{}</strong>", esc(text));
            }
            Inline::Link { label, href } => {
                let _ = write!(
                    out,
                    r#"<a href="{}" target="_blank" rel="noopener" style="color:{link_colour};text-decoration:underline;">{}</a>"#,
                    esc(href.target()),
                    esc(label)
                );
            }
        }
    }
    out
}

/// The plain-text part: the same words, with links written out.
pub(crate) fn text(cx: &Context<'_>, content: &Content, footer: &[Vec<Inline>]) -> String {
    let mut out = format!(
        "{}\n\n{}\n\n{}\n\n",
        cx.product(),
        content.heading,
        content.greeting
    );
    for block in &content.blocks {
        match block {
            Block::Paragraph(inlines) | Block::Note(inlines) => {
                out.push_str(&text_inlines(inlines));
            }
            Block::Button { label, href } => {
                let _ = write!(out, "{label}:\n{}", href.as_str());
            }
            Block::Code(code) => {
                let _ = write!(out, "    {code}");
            }
            Block::Facts(facts) => {
                let lines: Vec<String> = facts
                    .iter()
                    .map(|(label, value)| format!("{label}: {value}"))
                    .collect();
                out.push_str(&lines.join("\n"));
            }
        }
        out.push_str("\n\n");
    }
    out.push_str("-- \n");
    let lines: Vec<String> = footer.iter().map(|l| text_inlines(l)).collect();
    out.push_str(&lines.join("\n"));
    out.push('\n');
    out
}

fn text_inlines(inlines: &[Inline]) -> String {
    let mut out = String::new();
    for inline in inlines {
        match inline {
            Inline::Text(text) | Inline::Strong(text) => out.push_str(text),
            // A link labelled with its own address (give or take the slash URL parsing adds) is written once.
            Inline::Link { label, href }
                if label.trim_end_matches('/') == href.as_str().trim_end_matches('/') =>
            {
                out.push_str(label)
            }
            Inline::Link { label, href } => {
                let _ = write!(out, "{label} ({})", href.as_str());
            }
        }
    }
    out
}
