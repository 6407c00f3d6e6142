//! Registration and email verification.

use lectern_messages::Template;
use lectern_messages::webhooks::{self, WebhookEvent};
use lectern_shared::http::client::ClientInfo;
use serde::Deserialize;

use lectern_shared::table::TableError;

use super::Accounts;
use crate::audit::Action;
use crate::change::Change;
use crate::errors::AccountError;
use crate::onetime::{OneTimeTokens, Purpose};
use crate::password::check_policy;
use crate::permissions::Role;
use crate::users::{Preferences, Status, Tier, User, UserWriteError, Users};

/// Longest display name.
pub const MAX_DISPLAY_NAME: usize = 100;

/// A registration request.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    #[schema(schema_with = crate::schema::email)]
    pub email: String,
    #[schema(schema_with = crate::schema::new_password)]
    pub password: String,
    #[schema(schema_with = crate::schema::display_name)]
    pub display_name: String,
    /// `learner` (default) or `parent`; other roles are granted by an admin.
    #[serde(default)]
    #[schema(schema_with = crate::schema::self_registrable_role)]
    pub role: Option<Role>,
}

/// Checks an email address's shape (delivery is the real test) and returns it trimmed.
pub fn valid_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim();
    lectern_shared::mail::validate_address(email)
        .map_err(|_| AccountError::field("email", "not a valid email address"))?;
    Ok(email.to_string())
}

/// Checks a display name: 1..=100 characters, no control characters; returns it trimmed.
pub fn valid_display_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DISPLAY_NAME
        || name.chars().any(char::is_control)
    {
        return Err(AccountError::field(
            "display_name",
            format!("1 to {MAX_DISPLAY_NAME} characters, no control characters"),
        ));
    }
    Ok(name.to_string())
}

/// Checks a password against the policy, reporting every violation on `field` (the request's name for it).
pub fn valid_password(password: &str, email: &str, field: &str) -> Result<(), AccountError> {
    check_policy(password, email).map_err(|violations| {
        AccountError::Invalid(
            violations
                .into_iter()
                .map(|v| (field.to_string(), v.to_string()))
                .collect(),
        )
    })
}

/// A new, active account on the free tier.
fn new_account(
    email: String,
    display_name: String,
    role: Role,
    password_hash: String,
    email_verified: bool,
    now: i64,
) -> User {
    User {
        user_id: lectern_shared::ids::new_id(),
        email,
        display_name,
        role,
        tier: Tier::Free,
        status: Status::Active,
        email_verified,
        password_hash,
        created_at: now,
        updated_at: now,
        version: 1,
        preferences: Preferences::default(),
        two_factor: None,
        deleted_at: None,
        purge_after: None,
        password_changed_at: Some(now),
    }
}

impl Accounts {
    /// Registers an account and sends the verification email. The answer is the same whether or not the email
    /// was already registered (no account enumeration); an existing account is left untouched.
    #[tracing::instrument(skip_all)]
    pub async fn register(
        &self,
        input: Registration,
        client: &ClientInfo,
    ) -> Result<(), AccountError> {
        let email = valid_email(&input.email);
        let display_name = valid_display_name(&input.display_name);
        let role = input.role.unwrap_or(Role::Learner);
        let mut problems = Vec::new();
        for result in [email.as_ref().err(), display_name.as_ref().err()] {
            if let Some(AccountError::Invalid(fields)) = result {
                problems.extend(fields.iter().cloned());
            }
        }
        if !role.self_registrable() {
            problems.push(("role".into(), "choose learner or parent".into()));
        }
        if let Err(AccountError::Invalid(fields)) =
            valid_password(&input.password, &input.email, "password")
        {
            problems.extend(fields);
        }
        if !problems.is_empty() {
            return Err(AccountError::Invalid(problems));
        }
        let (email, display_name) = (email?, display_name?);
        // Hash before looking at whether the email exists, so both paths take the same time.
        let password_hash = self
            .hasher
            .hash(&input.password)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        let user = new_account(
            email,
            display_name,
            role,
            password_hash,
            false,
            self.epoch(),
        );
        // The account, its email claim, the verification link and its email, and the audit record: all or nothing.
        let mut change = Change::new();
        change.ops(Users::create_ops(&user)?);
        self.send_verification(&mut change, &user, &user.email)?;
        // Integrators' `user.registered` webhook event, committed with the account (never after it).
        let event = WebhookEvent::of(
            webhooks::USER_REGISTERED,
            &user.user_id,
            self.epoch(),
            &webhooks::UserRegisteredData {
                user_id: user.user_id.clone(),
                role: role.as_str().to_string(),
            },
        );
        let job = event
            .job()
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        change.send(self.outbox_entry::<WebhookEvent>(job)?);
        change.audit(self.event(Action::Register, Some(&user.user_id), &user.user_id, client));
        match self.commit(change).await {
            Ok(()) => Ok(()),
            // Operation 0 is the email claim: the address is taken.
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                tracing::info!("registration for an existing email; answered as usual");
                self.tell_owner_of_registration_attempt(&user.email).await
            }
            Err(TableError::TransactionCancelled { .. }) => {
                Err(AccountError::Conflict("try again".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Tells an address's owner that someone tried to register it again (at most one such email an hour), with a
    /// way back in if it was them. The caller still answers as for a new account.
    async fn tell_owner_of_registration_attempt(&self, email: &str) -> Result<(), AccountError> {
        let Some(owner) = self.users.find_by_email(email).await? else {
            return Ok(());
        };
        let template = Template::RegistrationAttempt {
            reset_link: format!("{}/forgot-password", self.config.app_url),
        };
        let mut change = Change::new();
        change.send(self.email(&owner, None, template, &(self.epoch() / 3600).to_string())?);
        Ok(self.commit(change).await?)
    }

    /// Adds to `change` a verification token for `address` and the email that carries its link.
    pub(crate) fn send_verification(
        &self,
        change: &mut Change,
        user: &User,
        address: &str,
    ) -> Result<(), AccountError> {
        let expires = self.epoch() + self.config.verify_email_ttl_secs;
        let (token, stored) =
            OneTimeTokens::mint(Purpose::VerifyEmail, &user.user_id, address, expires);
        let template = Template::VerifyEmail {
            link: self.link("verify-email", &token),
            code: None,
            expires_minutes: (self.config.verify_email_ttl_secs / 60) as u32,
        };
        change.op(stored.put()?);
        // Each token is its own email: the idempotency key is the token's hash.
        change.send(self.email(user, Some(address), template, &stored.hash)?);
        Ok(())
    }

    /// Verifies an address with the emailed token (single use): the token is used up in the same transaction that
    /// marks the address verified, so a failure leaves the link working.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> Result<(), AccountError> {
        let pending = self
            .onetime
            .peek(Purpose::VerifyEmail, token)
            .await?
            .ok_or(AccountError::InvalidToken)?;
        for _ in 0..3 {
            let mut user = self
                .user(&pending.user_id)
                .await
                .map_err(|_| AccountError::InvalidToken)?;
            // A link sent to an address the account no longer uses verifies nothing.
            if crate::users::email_key(&user.email) != crate::users::email_key(&pending.email) {
                return Err(AccountError::InvalidToken);
            }
            let mut change = Change::new();
            change.op(OneTimeTokens::redeem_op(Purpose::VerifyEmail, token));
            if !user.email_verified {
                user.email_verified = true;
                change.op(Users::save_op(&mut user, self.epoch())?);
                change.audit(self.event(
                    Action::EmailVerified,
                    Some(&user.user_id),
                    &user.user_id,
                    client,
                ));
            }
            match self.commit(change).await {
                Ok(()) => return Ok(()),
                // Operation 0 spends the token: another request used it first.
                Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                    return Err(AccountError::InvalidToken);
                }
                Err(TableError::TransactionCancelled { .. }) | Err(TableError::Retryable(_)) => {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountError::Conflict("account is busy; try again".into()))
    }

    /// Sends a new verification link if the address belongs to an unverified account. Always succeeds from the
    /// caller's point of view (no account enumeration).
    #[tracing::instrument(skip_all)]
    pub async fn resend_verification(&self, email: &str) -> Result<(), AccountError> {
        let email = valid_email(email)?;
        if let Some(user) = self.users.find_by_email(&email).await?
            && !user.email_verified
            && user.status == Status::Active
        {
            let mut change = Change::new();
            self.send_verification(&mut change, &user, &user.email)?;
            self.commit(change).await?;
        }
        Ok(())
    }
}

impl Accounts {
    /// Creates an already-verified account without sending mail: for demo seeds and operator tooling, never
    /// reachable from the API. Fails with `Conflict` when the email is taken.
    pub async fn provision(
        &self,
        email: &str,
        display_name: &str,
        role: Role,
        password: &str,
    ) -> Result<User, AccountError> {
        let email = valid_email(email)?;
        let display_name = valid_display_name(display_name)?;
        valid_password(password, &email, "password")?;
        let password_hash = self
            .hasher
            .hash(password)
            .await
            .map_err(|e| AccountError::Internal(e.to_string()))?;
        // Created as a learner; other roles go through the guarded path below so the admin counter stays right.
        let user = new_account(
            email,
            display_name,
            Role::Learner,
            password_hash,
            true,
            self.epoch(),
        );
        match self.users.create(&user).await {
            Ok(()) => {}
            Err(UserWriteError::EmailTaken) => {
                return Err(AccountError::Conflict("email already registered".into()));
            }
            Err(UserWriteError::Conflict) => {
                return Err(AccountError::Conflict("try again".into()));
            }
            Err(UserWriteError::Store(e)) => return Err(e.into()),
        }
        if role == Role::Learner {
            return Ok(user);
        }
        let mut promoted = user.clone();
        promoted.role = role;
        self.save_guarded(&user, promoted).await
    }
}
