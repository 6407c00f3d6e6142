//! The accounts domain, shared by the `auth`, `users` and `admin` functions: who users are, how they prove it,
//! what they may do, and the record of what happened. Written once on the ports, so it runs on Lambda and in
//! the dev server alike.

pub mod apikeys;
pub mod audit;
pub mod authenticator;
pub mod config;
pub mod crypto;
pub mod errors;
pub mod lockout;
pub mod notify;
pub mod onetime;
pub mod password;
pub mod permissions;
pub mod schema;
pub mod service;
pub mod sessions;
pub mod signing_keys;
pub mod tokens;
pub mod twofactor;
pub mod users;
