//! Every account email renders in both parts with its data, escapes what users control, and refuses unsafe links.

use lectern_messages::{NotifyEmail, Template};
use lectern_platform_notifications::{Branding, Locale, RenderError, render};
use time::macros::datetime;

const TO: &str = "ada@example.com";
const LINK: &str = "https://app.example.com/verify?token=tok123&u=7";

fn branding() -> Branding {
    Branding::new(
        "Acme Learn",
        "https://app.example.com",
        Some("help@example.com"),
    )
    .unwrap()
}

/// One of each template, with the strings its text part must show. The match has no wildcard, so a new
/// template does not compile until it is added here.
fn samples() -> Vec<(Template, Vec<&'static str>)> {
    let all = vec![
        Template::VerifyEmail {
            link: LINK.into(),
            code: Some("493-221".into()),
            expires_minutes: 60,
        },
        Template::PasswordReset {
            link: LINK.into(),
            expires_minutes: 30,
        },
        Template::PasswordResetNotice,
        Template::PasswordChanged,
        Template::EmailChangeRequested {
            new_email: "grace@example.org".into(),
        },
        Template::EmailChanged {
            new_email: "grace@example.org".into(),
        },
        Template::AccountLocked {
            until: datetime!(2025-03-03 14:05 UTC),
        },
        Template::NewLogin {
            device: "Firefox on Linux".into(),
            ip: Some("203.0.113.9".parse().unwrap()),
            at: datetime!(2025-03-03 09:30 +01:00),
        },
        Template::TwoFactorEnabled,
        Template::TwoFactorDisabled,
        Template::BackupCodeUsed { remaining: 2 },
        Template::ApiKeyCreated {
            name: "CI deploy".into(),
        },
        Template::RegistrationAttempt {
            reset_link: LINK.into(),
        },
        Template::PasswordResetUnavailable {
            signup_link: LINK.into(),
        },
        Template::AccountDeleted {
            restore_until: datetime!(2025-04-02 14:05 UTC),
        },
        Template::DataExportReady {
            link: LINK.into(),
            expires_at: datetime!(2025-04-04 10:00 UTC),
        },
    ];
    all.into_iter()
        .map(|t| {
            let expected = match &t {
                Template::VerifyEmail { .. } => vec![LINK, "493-221", "1 hour"],
                Template::PasswordReset { .. } => vec![LINK, "30 minutes"],
                Template::PasswordResetNotice => vec!["Acme Learn account was just reset"],
                Template::PasswordChanged => {
                    vec!["password of your Acme Learn account was just changed"]
                }
                Template::EmailChangeRequested { .. } => vec!["g•••@example.org"],
                Template::EmailChanged { .. } => vec!["g•••@example.org"],
                Template::AccountLocked { .. } => vec!["3 March 2025, 14:05 UTC"],
                Template::NewLogin { .. } => {
                    vec!["Firefox on Linux", "203.0.113.9", "3 March 2025, 08:30 UTC"]
                }
                Template::TwoFactorEnabled => vec!["turned on"],
                Template::TwoFactorDisabled => vec!["turned off"],
                Template::BackupCodeUsed { .. } => vec!["2 backup codes left"],
                Template::ApiKeyCreated { .. } => vec!["CI deploy"],
                Template::PasswordResetUnavailable { .. } => {
                    vec![LINK, "no active Acme Learn account"]
                }
                Template::RegistrationAttempt { .. } => {
                    vec![LINK, "already belongs to your account"]
                }
                Template::AccountDeleted { .. } => {
                    vec!["2 April 2025, 14:05 UTC", "restore"]
                }
                Template::DataExportReady { .. } => {
                    vec![LINK, "4 April 2025, 10:00 UTC", "do not forward"]
                }
            };
            (t, expected)
        })
        .collect()
}

#[test]
fn every_template_renders_both_parts_with_its_data() {
    for (template, expected) in samples() {
        let name = template.name();
        let email = render(&branding(), &NotifyEmail::new(TO, template).name("Ada")).unwrap();
        assert_eq!(email.to, TO);
        assert!(!email.subject.is_empty(), "{name}: subject");
        assert!(
            !email.subject.contains(['\r', '\n']),
            "{name}: one-line subject"
        );
        assert!(
            email.subject.contains("Acme Learn"),
            "{name}: subject names the product"
        );
        for part in [&email.html, &email.text] {
            assert!(part.contains("Hi Ada,"), "{name}: greeting");
            assert!(part.contains("Acme Learn"), "{name}: product name");
            assert!(part.contains("help@example.com"), "{name}: support address");
            assert!(part.contains("https://app.example.com"), "{name}: app URL");
        }
        for data in expected {
            assert!(email.text.contains(data), "{name}: text lacks {data:?}");
            let escaped = data.replace('&', "&amp;");
            assert!(
                email.html.contains(&escaped),
                "{name}: html lacks {escaped:?}"
            );
        }
        assert!(email.html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(email.html.contains(r#"<html lang="en""#), "{name}: lang");
        assert!(
            !email.html.contains("<script"),
            "{name}: no scripts in the layout"
        );
        for external in ["<img", "src=", "<link", "url(", "@import"] {
            assert!(
                !email.html.to_lowercase().contains(external),
                "{name}: loads nothing from outside ({external})"
            );
        }
    }
}

#[test]
fn links_become_buttons_in_html_and_are_written_out_in_text() {
    let email = render(
        &branding(),
        &NotifyEmail::new(
            TO,
            Template::PasswordReset {
                link: LINK.into(),
                expires_minutes: 30,
            },
        ),
    )
    .unwrap();
    assert!(
        email
            .html
            .contains(r#"href="https://app.example.com/verify?token=tok123&amp;u=7""#),
        "{}",
        email.html
    );
    assert!(
        email
            .text
            .contains(&format!("Choose a new password:\n{LINK}"))
    );
    assert!(email.text.contains("Hi,"), "no name, plain greeting");
}

#[test]
fn values_users_control_are_escaped_in_html() {
    let script = "<script>alert('x')</script>";
    let templates = [
        Template::NewLogin {
            device: script.into(),
            ip: None,
            at: datetime!(2025-03-03 09:30 UTC),
        },
        Template::ApiKeyCreated {
            name: script.into(),
        },
    ];
    for template in templates {
        let email = render(
            &branding(),
            &NotifyEmail::new(TO, template).name(r#"Mallory "<script>alert(1)</script>""#),
        )
        .unwrap();
        assert!(
            !email.html.contains("<script"),
            "no raw script tag: {}",
            email.html
        );
        assert!(
            email
                .html
                .contains("Hi Mallory &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;,")
        );
        assert!(
            email
                .html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
        );
        // The text part is not HTML: it shows the value as typed.
        assert!(email.text.contains(script));
    }
}

#[test]
fn product_name_is_escaped_too() {
    let branding = Branding::new("<b>Acme</b>", "https://app.example.com", None).unwrap();
    let email = render(&branding, &NotifyEmail::new(TO, Template::PasswordChanged)).unwrap();
    assert!(!email.html.contains("<b>"));
    assert!(email.html.contains("&lt;b&gt;Acme&lt;/b&gt;"));
    assert!(
        !email.text.contains("Need help"),
        "no support line without a support address"
    );
}

#[test]
fn line_breaks_in_user_values_do_not_reach_headers_or_layout() {
    let email = render(
        &branding(),
        &NotifyEmail::new(
            TO,
            Template::NewLogin {
                device: "Firefox\r\nBcc: victim@example.com".into(),
                ip: None,
                at: datetime!(2025-03-03 09:30 UTC),
            },
        )
        .name("Ada\r\nSubject: hi"),
    )
    .unwrap();
    assert!(!email.subject.contains(['\r', '\n']));
    assert!(email.text.contains("Hi Ada Subject: hi,"));
    assert!(
        email
            .text
            .contains("Device: Firefox Bcc: victim@example.com")
    );
}

#[test]
fn only_http_links_render() {
    for link in [
        "javascript:alert(document.cookie)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "/reset?token=1",
        "https://app.example.com@evil.test/reset",
    ] {
        for template in [
            Template::VerifyEmail {
                link: link.into(),
                code: None,
                expires_minutes: 60,
            },
            Template::PasswordReset {
                link: link.into(),
                expires_minutes: 60,
            },
        ] {
            let err = render(&branding(), &NotifyEmail::new(TO, template)).unwrap_err();
            assert_eq!(err, RenderError::UnsafeLink { field: "link" });
            assert!(!err.to_string().contains(link), "errors never quote links");
        }
    }
}

#[test]
fn bad_recipients_and_blank_fields_are_render_errors() {
    let err = render(
        &branding(),
        &NotifyEmail::new("not an address\r\nBcc: x@y.z", Template::PasswordChanged),
    )
    .unwrap_err();
    assert_eq!(err, RenderError::BadRecipient);
    let err = render(
        &branding(),
        &NotifyEmail::new(
            TO,
            Template::ApiKeyCreated {
                name: " \n ".into(),
            },
        ),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        RenderError::InvalidField { field: "name", .. }
    ));
}

#[test]
fn unknown_locales_fall_back_to_english() {
    let english = render(
        &branding(),
        &NotifyEmail::new(TO, Template::TwoFactorEnabled),
    )
    .unwrap();
    for locale in ["xx-YY", "", "de-DE,fr;q=0.8", "en-GB"] {
        let email = render(
            &branding(),
            &NotifyEmail::new(TO, Template::TwoFactorEnabled).locale(locale),
        )
        .unwrap();
        assert_eq!(email, english, "{locale:?}");
    }
    assert_eq!(Locale::resolve(Some("zz")), Locale::default());
    assert_eq!(Locale::resolve(Some("zz")).tag(), "en");
}

#[test]
fn backup_code_emails_urge_new_codes_only_when_few_are_left() {
    let text = |remaining| {
        render(
            &branding(),
            &NotifyEmail::new(TO, Template::BackupCodeUsed { remaining }),
        )
        .unwrap()
        .text
    };
    assert!(text(0).contains("no backup codes left"));
    assert!(text(0).contains("Create new backup codes"));
    assert!(text(1).contains("1 backup code left"));
    assert!(!text(8).contains("Create new backup codes"));
}

#[test]
fn jobs_round_trip_in_the_documented_wire_format() {
    for (template, _) in samples() {
        let job = NotifyEmail::new(TO, template).name("Ada").locale("en");
        let value = serde_json::to_value(&job).unwrap();
        assert_eq!(value["template"], job.template.name());
        assert_eq!(value["to"], TO);
        let back: NotifyEmail = serde_json::from_value(value).unwrap();
        assert_eq!(back, job);
    }
    let wire = serde_json::json!({
        "to": TO,
        "template": "new_login",
        "data": {"device": "Safari on iPhone", "ip": "2001:db8::1", "at": "2025-03-03T09:30:00Z"}
    });
    let job: NotifyEmail = serde_json::from_value(wire).unwrap();
    assert_eq!(job.name, None);
    assert!(matches!(
        job.template,
        Template::NewLogin { ip: Some(_), .. }
    ));
    let unit: NotifyEmail =
        serde_json::from_value(serde_json::json!({"to": TO, "template": "password_changed"}))
            .unwrap();
    assert_eq!(unit.template, Template::PasswordChanged);
}

#[test]
fn notifications_render_in_app_and_by_email_with_the_childs_name_escaped() {
    use lectern_messages::{NotificationContent, NotificationType};
    use lectern_platform_notifications::{in_app_text, render_notification};
    let earned = NotificationContent::AchievementEarned {
        learner_name: "<b>Kid</b>\r\nBcc: x@evil.test".into(),
        achievement_id: "01JACH1EVEMENT000000000000".into(),
        achievement_name: "First win".into(),
    };
    let text = in_app_text(Some("de-DE"), &earned).unwrap();
    assert_eq!(text.title, "<b>Kid</b> Bcc: x@evil.test earned “First win”");
    let email = render_notification(
        &branding(),
        TO,
        Some("Ada"),
        None,
        NotificationType::Achievements,
        &earned,
    )
    .unwrap();
    assert!(!email.subject.contains(['\r', '\n']), "{}", email.subject);
    assert!(!email.html.contains("<b>Kid"), "escaped in HTML");
    assert!(email.html.contains("&lt;b&gt;Kid"), "{}", email.html);
    assert!(
        email
            .text
            .contains("achievement notifications are on by email")
    );
    let security = render_notification(
        &branding(),
        TO,
        None,
        None,
        NotificationType::Security,
        &NotificationContent::Message {
            title: "New sign-in".into(),
            body: "Someone signed in.".into(),
            link: Some(LINK.into()),
        },
    )
    .unwrap();
    assert!(security.text.contains(LINK));
    assert!(security.text.contains("about your account's security"));
    let unsafe_link = NotificationContent::Message {
        title: "t".into(),
        body: "b".into(),
        link: Some("javascript:alert(1)".into()),
    };
    assert_eq!(
        in_app_text(None, &unsafe_link),
        Err(RenderError::UnsafeLink { field: "link" })
    );
}

#[test]
fn the_weekly_report_shows_every_child_escaped_and_a_reminder_renders() {
    use lectern_messages::{ChildWeek, GameWeek, NotificationContent, NotificationType};
    use lectern_platform_notifications::{in_app_text, render_notification};
    let child = |name: &str, seconds: i64| ChildWeek {
        name: name.into(),
        seconds,
        results: 4,
        completed: 3,
        stars: 9,
        days_played: 2,
        games: vec![GameWeek {
            title: "Letters".into(),
            plays: 4,
            best_stars: 3,
        }],
        achievements: vec!["First win".into()],
        skills_mastered: vec!["phonics".into()],
    };
    let report = NotificationContent::WeeklyReport {
        from: "2026-11-23".into(),
        to: "2026-11-29".into(),
        children: vec![child("<i>Ada</i>", 3_900), child("Bo", 40)],
    };
    let text = in_app_text(None, &report).unwrap();
    assert_eq!(text.title, "Your family's week: 2026-11-23 to 2026-11-29");
    assert!(text.body.contains("1 h 05 min played"), "{}", text.body);
    assert!(text.body.contains("Bo: 40 s played"), "{}", text.body);
    let email = render_notification(
        &branding(),
        TO,
        Some("Parent"),
        None,
        NotificationType::WeeklyReport,
        &report,
    )
    .unwrap();
    assert!(!email.html.contains("<i>Ada"), "escaped in HTML");
    assert!(email.html.contains("&lt;i&gt;Ada"), "{}", email.html);
    for expected in [
        "Bo",
        "Letters",
        "First win",
        "phonics",
        "weekly report notifications are on by email",
    ] {
        assert!(email.text.contains(expected), "{expected}: {}", email.text);
    }
    let reminder = render_notification(
        &branding(),
        TO,
        None,
        None,
        NotificationType::Reminders,
        &NotificationContent::Reminder {},
    )
    .unwrap();
    assert_eq!(reminder.subject, "Time to play and learn");
}
