//! English.

use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use super::content::{Block, Content, Context, Href, Inline, clean, mask_email};
use super::locale::Catalog;
use super::{InAppText, RenderError};
use lectern_messages::{NotificationContent, NotificationType, Template};

/// Longest device description shown.
const MAX_DEVICE_CHARS: usize = 120;
/// Longest API key label shown.
const MAX_KEY_NAME_CHARS: usize = 100;
/// Longest code shown.
const MAX_CODE_CHARS: usize = 32;
/// Backup codes left at or below which the email suggests making new ones.
const FEW_BACKUP_CODES: u32 = 3;
/// Longest learner or achievement name shown.
const MAX_NAME_CHARS: usize = 80;
/// Longest notification title, in characters.
const MAX_TITLE_CHARS: usize = 120;
/// Longest notification body, in characters.
const MAX_BODY_CHARS: usize = 2_000;

/// The English catalog (also the fallback).
pub(crate) struct English;

impl Catalog for English {
    fn tag(&self) -> &'static str {
        "en"
    }

    fn content(&self, template: &Template, cx: &Context<'_>) -> Result<Content, RenderError> {
        let product = cx.product();
        let greeting = match &cx.name {
            Some(name) => format!("Hi {name},"),
            None => "Hi,".to_string(),
        };
        let email =
            |subject: String, preheader: String, heading: &str, blocks: Vec<Block>| Content {
                subject,
                preheader,
                heading: heading.to_string(),
                greeting: greeting.clone(),
                blocks,
            };
        Ok(match template {
            Template::VerifyEmail {
                link,
                code,
                expires_minutes,
            } => {
                let href = Href::web(link, "link")?;
                let within = duration(*expires_minutes);
                let mut blocks = vec![Block::text(format!(
                    "Please confirm that this address belongs to you. The link expires in {within}."
                ))];
                blocks.extend(action("Confirm email address", &href));
                if let Some(code) = code {
                    let code = clean(code, MAX_CODE_CHARS);
                    if code.is_empty() {
                        return Err(RenderError::InvalidField {
                            field: "code",
                            reason: "empty",
                        });
                    }
                    blocks.push(Block::text(format!("Or enter this code in {product}:")));
                    blocks.push(Block::Code(code));
                }
                blocks.push(Block::Note(vec![Inline::text(
                    "If you did not ask for this, you can ignore this email: nothing changes until the address is confirmed.",
                )]));
                email(
                    format!("Confirm your email address for {product}"),
                    format!("Confirm your address to finish setting up your {product} account."),
                    "Confirm your email address",
                    blocks,
                )
            }
            Template::PasswordReset {
                link,
                expires_minutes,
            } => {
                let href = Href::web(link, "link")?;
                let within = duration(*expires_minutes);
                let mut blocks = vec![Block::text(format!(
                    "We received a request to reset the password of your {product} account. The link below works once and expires in {within}."
                ))];
                blocks.extend(action("Choose a new password", &href));
                blocks.push(Block::Note(vec![Inline::text(
                    "If you did not ask for this, you can ignore this email: your password stays the same.",
                )]));
                email(
                    format!("Reset your {product} password"),
                    format!("Use this link within {within} to choose a new password."),
                    "Reset your password",
                    blocks,
                )
            }
            Template::PasswordResetNotice => email(
                format!("Your {product} password was reset"),
                "Your password was just reset with a link sent to this address.".into(),
                "Your password was reset",
                with_warning(
                    vec![Block::text(format!(
                        "The password of your {product} account was just reset using a link sent to this address. If this was you, there is nothing else to do."
                    ))],
                    cx,
                ),
            ),
            Template::PasswordChanged => email(
                format!("Your {product} password was changed"),
                "Your password was just changed from your account settings.".into(),
                "Your password was changed",
                with_warning(
                    vec![Block::text(format!(
                        "The password of your {product} account was just changed. If this was you, there is nothing else to do."
                    ))],
                    cx,
                ),
            ),
            Template::EmailChangeRequested { new_email } => {
                let masked = mask_email(new_email);
                email(
                    format!("Request to change your {product} email address"),
                    format!("Someone asked to move your account to {masked}."),
                    "Email change requested",
                    with_warning(
                        vec![
                            Block::Paragraph(vec![
                                Inline::text(format!(
                                    "Someone asked to change the email address of your {product} account to "
                                )),
                                Inline::Strong(masked),
                                Inline::text("."),
                            ]),
                            Block::text(
                                "Nothing changes until the new address is confirmed. If this was you, there is nothing else to do.",
                            ),
                        ],
                        cx,
                    ),
                )
            }
            Template::EmailChanged { new_email } => {
                let masked = mask_email(new_email);
                email(
                    format!("Your {product} email address was changed"),
                    format!("Your account now uses {masked}."),
                    "Your email address was changed",
                    with_warning(
                        vec![Block::Paragraph(vec![
                            Inline::text(format!(
                                "The email address of your {product} account was changed to "
                            )),
                            Inline::Strong(masked),
                            Inline::text(
                                ". Account emails will go to the new address from now on.",
                            ),
                        ])],
                        cx,
                    ),
                )
            }
            Template::AccountLocked { until } => {
                let until = when(*until)?;
                email(
                    format!("Your {product} account is temporarily locked"),
                    format!(
                        "Too many failed sign-in attempts. You can sign in again after {until}."
                    ),
                    "Your account is temporarily locked",
                    with_warning(
                        vec![Block::text(format!(
                            "After several failed sign-in attempts, we blocked sign-in to your {product} account until {until}. You can sign in again after that time."
                        ))],
                        cx,
                    ),
                )
            }
            Template::NewLogin { device, ip, at } => {
                let device = clean(device, MAX_DEVICE_CHARS);
                let mut facts = vec![(
                    "Device".to_string(),
                    if device.is_empty() {
                        "Unknown device".to_string()
                    } else {
                        device
                    },
                )];
                if let Some(ip) = ip {
                    facts.push(("IP address".to_string(), ip.to_string()));
                }
                facts.push(("Time".to_string(), when(*at)?));
                email(
                    format!("New sign-in to your {product} account"),
                    "Your account was signed in to from a new device.".into(),
                    "New sign-in from a new device",
                    with_warning(
                        vec![
                            Block::text(format!(
                                "Your {product} account was just signed in to from a device we have not seen before:"
                            )),
                            Block::Facts(facts),
                            Block::text("If this was you, there is nothing else to do."),
                        ],
                        cx,
                    ),
                )
            }
            Template::TwoFactorEnabled => email(
                format!("Two-factor authentication is on for {product}"),
                "Signing in now needs a code as well as your password.".into(),
                "Two-factor authentication is on",
                with_warning(
                    vec![Block::text(format!(
                        "Two-factor authentication was turned on for your {product} account. Signing in now needs a code from your authenticator app as well as your password. Keep your backup codes somewhere safe."
                    ))],
                    cx,
                ),
            ),
            Template::TwoFactorDisabled => email(
                format!("Two-factor authentication is off for {product}"),
                "Your account is now protected by your password alone.".into(),
                "Two-factor authentication is off",
                with_warning(
                    vec![Block::text(format!(
                        "Two-factor authentication was turned off for your {product} account, which is now protected by your password alone."
                    ))],
                    cx,
                ),
            ),
            Template::BackupCodeUsed { remaining } => {
                let left = match remaining {
                    0 => "You have no backup codes left.".to_string(),
                    1 => "You have 1 backup code left.".to_string(),
                    n => format!("You have {n} backup codes left."),
                };
                let mut blocks = vec![Block::text(format!(
                    "A backup code was just used to sign in to your {product} account. {left}"
                ))];
                if *remaining <= FEW_BACKUP_CODES {
                    blocks.push(Block::text(
                        "Create new backup codes in your security settings so you can still sign in if you lose your authenticator.",
                    ));
                }
                email(
                    format!("A backup code was used to sign in to {product}"),
                    left,
                    "A backup code was used",
                    with_warning(blocks, cx),
                )
            }
            Template::RegistrationAttempt { reset_link } => {
                let href = Href::web(reset_link, "reset_link")?;
                let mut blocks = vec![
                    Block::text(format!(
                        "Someone just tried to create a new {product} account with this email address, which already belongs to your account. No new account was created."
                    )),
                    Block::text("If it was you and you forgot your password, choose a new one:"),
                ];
                blocks.extend(action("Reset your password", &href));
                blocks.push(Block::Note(vec![Inline::text(
                    "If it was not you, you can ignore this email: nothing changed.",
                )]));
                email(
                    format!("Someone tried to sign up for {product} with your address"),
                    "You already have an account with this address.".into(),
                    "You already have an account",
                    blocks,
                )
            }
            Template::PasswordResetUnavailable { signup_link } => {
                let href = Href::web(signup_link, "signup_link")?;
                let mut blocks = vec![
                    Block::text(format!(
                        "Someone asked to reset the {product} password of this email address, but no active {product} account uses it, so there is nothing to reset."
                    )),
                    Block::text(
                        "If it was you, you may have signed up with another address. Or create an account:",
                    ),
                ];
                blocks.extend(action("Create an account", &href));
                blocks.push(Block::Note(vec![Inline::text(
                    "If it was not you, you can ignore this email.",
                )]));
                email(
                    format!("About your {product} password reset"),
                    "No account uses this address.".into(),
                    "No account to reset",
                    blocks,
                )
            }
            Template::ApiKeyCreated { name } => {
                let name = clean(name, MAX_KEY_NAME_CHARS);
                if name.is_empty() {
                    return Err(RenderError::InvalidField {
                        field: "name",
                        reason: "empty",
                    });
                }
                email(
                    format!("New API key for your {product} account"),
                    "An API key was created for your account.".into(),
                    "New API key created",
                    with_warning(
                        vec![Block::Paragraph(vec![
                            Inline::text("An API key named "),
                            Inline::Strong(name),
                            Inline::text(format!(
                                " was just created for your {product} account. If this was you, there is nothing else to do."
                            )),
                        ])],
                        cx,
                    ),
                )
            }
            Template::DataExportReady { link, expires_at } => {
                let href = Href::web(link, "link")?;
                let until = when(*expires_at)?;
                let mut blocks = vec![Block::text(format!(
                    "The copy of your {product} data you asked for is ready: your account and, if you have a family, your children's profiles, in one zip file with a README explaining each file. The link works until {until}."
                ))];
                blocks.extend(action("Download your data", &href));
                blocks.push(Block::Note(vec![Inline::text(
                    "Anyone with this link can download the file until it expires: do not forward this email. If you did not ask for a copy of your data, change your password.",
                )]));
                email(
                    format!("Your {product} data is ready to download"),
                    format!("Download it before {until}."),
                    "Your data export is ready",
                    blocks,
                )
            }
            Template::AccountDeleted { restore_until } => {
                let until = when(*restore_until)?;
                // A deleted account cannot ask for a reset link: the way back is to sign in (which restores it).
                let warning = warning(
                    " sign in right away to restore the account, then change your password at ",
                    cx,
                );
                email(
                    format!("Your {product} account was deleted"),
                    format!("Sign in before {until} to restore it."),
                    "Your account was deleted",
                    vec![
                        Block::text(format!(
                            "Your {product} account was deleted and signed out everywhere. If you change your mind, sign in before {until} to restore it; after that it is removed for good."
                        )),
                        warning,
                    ],
                )
            }
        })
    }

    fn in_app(&self, content: &NotificationContent) -> Result<InAppText, RenderError> {
        Ok(match content {
            NotificationContent::AchievementEarned {
                learner_name,
                achievement_name,
                ..
            } => {
                let (learner, achievement) = names(learner_name, achievement_name)?;
                InAppText {
                    title: format!("{learner} earned “{achievement}”"),
                    body: format!("{learner} earned the achievement “{achievement}”. Well done!"),
                    link: None,
                }
            }
            NotificationContent::Message { title, body, link } => {
                let (title, body, link) = message(title, body, link.as_deref())?;
                InAppText {
                    title,
                    body,
                    link: link.map(|l| l.target().to_string()),
                }
            }
            NotificationContent::Reminder {} => InAppText {
                title: "Time to play and learn".to_string(),
                body: "A few minutes of practice today keeps the streak going.".to_string(),
                link: None,
            },
            NotificationContent::WeeklyReport { from, to, children } => {
                let lines: Vec<String> = children
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} played, {} games, {} stars, {} new achievements",
                            clean(&c.name, MAX_NAME_CHARS),
                            played(c.seconds),
                            c.results,
                            c.stars,
                            c.achievements.len()
                        )
                    })
                    .collect();
                InAppText {
                    title: format!(
                        "Your family's week: {} to {}",
                        clean(from, 10),
                        clean(to, 10)
                    ),
                    body: clean(&lines.join(". "), MAX_BODY_CHARS),
                    link: None,
                }
            }
        })
    }

    fn notification(
        &self,
        category: NotificationType,
        content: &NotificationContent,
        cx: &Context<'_>,
    ) -> Result<Content, RenderError> {
        let product = cx.product();
        let greeting = match &cx.name {
            Some(name) => format!("Hi {name},"),
            None => "Hi,".to_string(),
        };
        let (subject, heading, mut blocks) = match content {
            NotificationContent::AchievementEarned {
                learner_name,
                achievement_name,
                ..
            } => {
                let (learner, achievement) = names(learner_name, achievement_name)?;
                let blocks = vec![
                    Block::Paragraph(vec![
                        Inline::text(format!("{learner} just earned the achievement ")),
                        Inline::Strong(achievement.clone()),
                        Inline::text(format!(" on {product}. Well done!")),
                    ]),
                    Block::Button {
                        label: format!("Open {product}"),
                        href: cx.app.clone(),
                    },
                ];
                (
                    format!("{learner} earned “{achievement}”"),
                    "A new achievement".to_string(),
                    blocks,
                )
            }
            NotificationContent::Message { title, body, link } => {
                let (title, body, link) = message(title, body, link.as_deref())?;
                let mut blocks = vec![Block::text(body)];
                if let Some(href) = link {
                    blocks.extend(action("Open", &href));
                }
                (title.clone(), title, blocks)
            }
            NotificationContent::Reminder {} => (
                "Time to play and learn".to_string(),
                "Your daily reminder".to_string(),
                vec![
                    Block::text(format!(
                        "A few minutes on {product} today keeps the streak going."
                    )),
                    Block::Button {
                        label: format!("Open {product}"),
                        href: cx.app.clone(),
                    },
                ],
            ),
            NotificationContent::WeeklyReport { from, to, children } => {
                let (from, to) = (clean(from, 10), clean(to, 10));
                let mut blocks = vec![Block::text(format!(
                    "Here is how the week from {from} to {to} went."
                ))];
                for child in children {
                    blocks.push(Block::Paragraph(vec![Inline::Strong(clean(
                        &child.name,
                        MAX_NAME_CHARS,
                    ))]));
                    blocks.push(Block::Facts(week_facts(child)));
                }
                if children.is_empty() {
                    blocks.push(Block::text("Nobody played this week."));
                }
                blocks.push(Block::Button {
                    label: format!("Open {product}"),
                    href: cx.app.clone(),
                });
                (
                    format!("Your family's week on {product}"),
                    format!("The week from {from} to {to}"),
                    blocks,
                )
            }
        };
        // Why this mail came, and where it stops (security mail cannot be switched off).
        let why = match category {
            NotificationType::Security => {
                "You get this email because it is about your account's security.".to_string()
            }
            other => format!(
                "You get this email because {} notifications are on by email. Change that in your notification settings in {product}.",
                describe(other)
            ),
        };
        blocks.push(Block::Note(vec![Inline::text(why)]));
        Ok(Content {
            preheader: subject.clone(),
            subject,
            heading,
            greeting,
            blocks,
        })
    }

    fn footer(&self, cx: &Context<'_>) -> Vec<Vec<Inline>> {
        let mut lines = vec![vec![Inline::text(format!(
            "You are receiving this email because this address belongs to an account on {}. It was sent automatically.",
            cx.product()
        ))]];
        if let Some((addr, href)) = &cx.support {
            lines.push(vec![
                Inline::text("Need help? Write to "),
                Inline::Link {
                    label: addr.clone(),
                    href: href.clone(),
                },
                Inline::text("."),
            ]);
        }
        lines.push(vec![
            Inline::text(format!("{} · ", cx.product())),
            cx.app_link(),
        ]);
        lines
    }
}

/// "1 h 05 min", "12 min", "40 s".
fn played(seconds: i64) -> String {
    match seconds.max(0) {
        s if s >= 3600 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Names joined for one fact line ("—" when there are none).
fn listed<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|n| clean(n, MAX_NAME_CHARS)).collect();
    if names.is_empty() {
        "—".to_string()
    } else {
        clean(&names.join(", "), MAX_BODY_CHARS / 4)
    }
}

/// One child's week as label/value pairs.
fn week_facts(child: &lectern_messages::ChildWeek) -> Vec<(String, String)> {
    vec![
        ("Time played".into(), played(child.seconds)),
        (
            "Games".into(),
            format!(
                "{} played, {} completed, on {} days",
                child.results, child.completed, child.days_played
            ),
        ),
        ("Stars".into(), child.stars.to_string()),
        (
            "Played most".into(),
            listed(child.games.iter().map(|g| &g.title)),
        ),
        ("New achievements".into(), listed(child.achievements.iter())),
        (
            "Skills mastered".into(),
            listed(child.skills_mastered.iter()),
        ),
    ]
}

/// A learner's and an achievement's names, one line each; neither may be empty.
fn names(learner: &str, achievement: &str) -> Result<(String, String), RenderError> {
    let learner = clean(learner, MAX_NAME_CHARS);
    let achievement = clean(achievement, MAX_NAME_CHARS);
    for (value, field) in [
        (&learner, "learner_name"),
        (&achievement, "achievement_name"),
    ] {
        if value.is_empty() {
            return Err(RenderError::InvalidField {
                field,
                reason: "empty",
            });
        }
    }
    Ok((learner, achievement))
}

/// A producer's message: a one-line title, a body (flattened to one paragraph) and a checked link.
fn message(
    title: &str,
    body: &str,
    link: Option<&str>,
) -> Result<(String, String, Option<Href>), RenderError> {
    let title = clean(title, MAX_TITLE_CHARS);
    let body = clean(body, MAX_BODY_CHARS);
    for (value, field) in [(&title, "title"), (&body, "body")] {
        if value.is_empty() {
            return Err(RenderError::InvalidField {
                field,
                reason: "empty",
            });
        }
    }
    let link = link.map(|l| Href::web(l, "link")).transpose()?;
    Ok((title, body, link))
}

/// How a notification type reads in a sentence ("achievement notifications are on").
fn describe(category: NotificationType) -> &'static str {
    match category {
        NotificationType::Security => "security",
        NotificationType::ExamResults => "exam result",
        NotificationType::Reminders => "reminder",
        NotificationType::Achievements => "achievement",
        NotificationType::DiscussionReplies => "discussion reply",
        NotificationType::Announcements => "announcement",
        NotificationType::WeeklyReport => "weekly report",
    }
}

/// The button and, for clients that hide buttons or readers who prefer it, the link written out.
fn action(label: &str, href: &Href) -> [Block; 2] {
    [
        Block::Button {
            label: label.to_string(),
            href: href.clone(),
        },
        Block::Note(vec![
            Inline::text("If the button does not work, copy this link into your browser: "),
            Inline::url(href),
        ]),
    ]
}

/// Appends what to do if the user did not make the change: secure the account and, if configured, write to us.
fn with_warning(mut blocks: Vec<Block>, cx: &Context<'_>) -> Vec<Block> {
    blocks.push(warning(
        " reset your password right away from the sign-in page at ",
        cx,
    ));
    blocks
}

/// "If this was not you, <advice> <app link> and let us know at <support>." — `advice` ends just before the link.
fn warning(advice: &str, cx: &Context<'_>) -> Block {
    let mut warning = vec![
        Inline::Strong("If this was not you,".into()),
        Inline::text(advice),
        cx.app_link(),
    ];
    match &cx.support {
        Some((addr, href)) => {
            warning.push(Inline::text(" and let us know at "));
            warning.push(Inline::Link {
                label: addr.clone(),
                href: href.clone(),
            });
            warning.push(Inline::text("."));
        }
        None => warning.push(Inline::text(".")),
    }
    Block::Paragraph(warning)
}

/// "30 minutes", "1 hour", "2 days".
fn duration(minutes: u32) -> String {
    let (n, unit) = match minutes {
        0 => return "less than a minute".to_string(),
        m if m % (24 * 60) == 0 => (m / (24 * 60), "day"),
        m if m % 60 == 0 => (m / 60, "hour"),
        m => (m, "minute"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// "3 March 2025, 14:05 UTC".
fn when(at: OffsetDateTime) -> Result<String, RenderError> {
    let invalid = RenderError::InvalidField {
        field: "time",
        reason: "out of range",
    };
    at.checked_to_offset(UtcOffset::UTC)
        .ok_or(invalid.clone())?
        .format(format_description!(
            "[day padding:none] [month repr:long] [year], [hour]:[minute] UTC"
        ))
        .map_err(|_| invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "less than a minute");
        assert_eq!(duration(1), "1 minute");
        assert_eq!(duration(30), "30 minutes");
        assert_eq!(duration(60), "1 hour");
        assert_eq!(duration(90), "90 minutes");
        assert_eq!(duration(180), "3 hours");
        assert_eq!(duration(1440), "1 day");
        assert_eq!(duration(2880), "2 days");
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(
            when(datetime!(2025-03-03 16:05 +02:00)).unwrap(),
            "3 March 2025, 14:05 UTC"
        );
    }
}
