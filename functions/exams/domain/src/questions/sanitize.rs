//! Rich text of stems and explanations: HTML kept to a safe subset by `ammonia` (html5ever underneath), so no
//! script, style, event handler (`on*`), `javascript:` URL or unknown element survives. What an author sends is
//! never refused for its markup: text that sanitizes to nothing visible (say, only a `<script>`) is kept as the
//! escaped source instead, so the author sees what they typed and no browser runs it.

/// The stored form of an author's rich text.
pub fn rich_text(html: &str) -> String {
    let clean = ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string();
    if has_visible_content(&clean) {
        clean
    } else {
        ammonia::clean_text(html)
    }
}

/// Whether sanitized HTML shows anything: text outside tags, or an image.
fn has_visible_content(html: &str) -> bool {
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_whitespace() => return true,
            _ => {}
        }
    }
    html.contains("<img")
}

/// Plain text of sanitized HTML, shortened to `max` characters (list previews).
pub fn preview(html: &str, max: usize) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_javascript_urls_are_removed() {
        let clean = rich_text(
            r#"<p onclick="x()">Solve <b>x</b><script>alert(1)</script><img src="a.png" onerror="y()"><a href="javascript:z()">l</a><style>p{}</style></p>"#,
        );
        assert!(clean.contains("<b>x</b>"), "{clean}");
        for bad in [
            "script",
            "onclick",
            "onerror",
            "javascript",
            "style",
            "alert",
        ] {
            assert!(!clean.contains(bad), "{bad} in {clean}");
        }
    }

    #[test]
    fn text_that_sanitizes_to_nothing_is_kept_escaped() {
        let clean = rich_text("<script>alert(1)</script>");
        assert_eq!(clean, "&lt;script&gt;alert(1)&lt;&#47;script&gt;");
        assert!(!rich_text("<a").is_empty());
        assert_eq!(rich_text("2 < 3"), "2 &lt; 3");
    }

    #[test]
    fn previews_are_plain_and_short() {
        assert_eq!(
            preview("<p>What is <b>2</b> &lt; 3?</p>", 100),
            "What is 2 < 3?"
        );
        assert_eq!(preview("abcdef", 3), "abc…");
    }
}
