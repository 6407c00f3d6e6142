//! Two-factor authentication from the outside: TOTP codes at the server's time, enrolment, challenges.

use std::time::Duration;

use lectern_accounts::twofactor::totp;
use lectern_shared::clock::Clock;

use crate::api::{Api, PASSWORD, Reply, Signed};
use crate::encoding::base32_decode;

/// What enabling 2FA hands out.
pub struct Enrolled {
    /// The decoded TOTP secret.
    pub secret: Vec<u8>,
    pub backup_codes: Vec<String>,
}

impl Api {
    fn now_secs(&self) -> u64 {
        self.server.clock.epoch_seconds() as u64
    }

    /// The TOTP code of `secret` at the server's current time.
    pub fn totp_now(&self, secret: &[u8]) -> String {
        totp::code_at(secret, self.now_secs())
    }

    /// A six-digit code that matches no step near the server's current time (two steps either way, wider than the
    /// verification window).
    pub fn wrong_code(&self, secret: &[u8]) -> String {
        let now = self.now_secs();
        let near: Vec<String> = (0..5)
            .map(|i| totp::code_at(secret, now + i * 30 - 60))
            .collect();
        (0..10u32)
            .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
            .find(|c| !near.contains(c))
            .expect("some code is wrong")
    }

    /// Moves the server clock to the start of the next 30-second TOTP step, so the next code is a fresh one.
    pub fn next_totp_step(&self) {
        let now = self.now_secs();
        self.server
            .clock
            .advance(Duration::from_secs(30 - now % 30));
    }

    /// Turns 2FA on for a signed-in user (setup, then enable with the current code) and moves the clock to the
    /// next TOTP step, so the next code is not the one just spent on enabling.
    pub async fn enrol_2fa(&self, user: &Signed) -> Enrolled {
        let setup = self.setup_2fa(&user.access).await.expect_status(200);
        let secret_text = setup.text("secret");
        assert!(
            setup.text("otpauth_uri").contains(&secret_text),
            "the URI carries the same secret"
        );
        let secret = base32_decode(&secret_text);
        let enabled = self
            .enable_2fa(&user.access, &self.totp_now(&secret))
            .await
            .expect_status(200);
        let backup_codes = backup_codes(&enabled);
        assert_eq!(backup_codes.len(), 10);
        self.next_totp_step();
        Enrolled {
            secret,
            backup_codes,
        }
    }

    /// A signed-up user with 2FA on, its enrolment, and a fresh access token.
    pub async fn two_factor_user(&self, email: &str) -> (Signed, Enrolled, String) {
        let user = self.signed_up(email).await;
        let enrolled = self.enrol_2fa(&user).await;
        let access = self.fresh_access(&user).await;
        (user, enrolled, access)
    }

    /// Signs in with the password of a 2FA account; answers the challenge.
    pub async fn challenge(&self, email: &str) -> String {
        let reply = self.login_with(email, PASSWORD).await.expect_status(200);
        assert_eq!(reply.body["status"], "two_factor_required", "{reply}");
        reply.text("challenge")
    }

    /// Signs in an account with 2FA on: the password answers a challenge, completed here with `code`.
    pub async fn login_2fa(&self, email: &str, code: &str) -> Reply {
        let challenge = self.challenge(email).await;
        self.verify_2fa(&challenge, code).await
    }
}

/// The `backup_codes` of a `2fa/enable` answer.
pub fn backup_codes(enabled: &Reply) -> Vec<String> {
    enabled.body["backup_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("no backup codes in {enabled}"))
        .iter()
        .map(|c| c.as_str().expect("code").to_string())
        .collect()
}
