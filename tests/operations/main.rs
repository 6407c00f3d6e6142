//! The operations domain from the outside, over real HTTP on the dev server (and, in `aws`, on the AWS adapters over
//! moto): app settings, feature flags, and the IP block and allow lists every function enforces.

mod aws;
mod flags;
mod ip_rules;
mod settings;
