//! Passwords: the policy a new password must meet, and Argon2id hashing and verification.

mod common;
mod hashing;
mod policy;

pub use hashing::{Argon2Params, PasswordError, PasswordHasher, Verification};
pub use policy::{PasswordPolicy, PolicyViolation, check_policy};
