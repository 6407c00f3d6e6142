//! Two-factor authentication: the primitives (TOTP codes, backup codes, the enrolment QR code) and the use cases
//! built on them (enrolment, the login step, turning it off).

pub mod backup_codes;
pub mod challenges;
mod flows;
pub mod qr;
pub mod totp;

pub use flows::{BACKUP_CODES, Enrolment};
