//! Two-factor authentication primitives: TOTP codes, backup codes and the enrolment QR code.

pub mod backup_codes;
pub mod qr;
pub mod totp;
