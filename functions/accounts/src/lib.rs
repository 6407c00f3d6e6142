//! The accounts domain, shared by the `auth`, `users` and `admin` functions: who users are, how they prove it,
//! what they may do, and the record of what happened. Written once on the ports, so it runs on Lambda and in
//! the dev server alike.

pub mod crypto;
pub mod password;
pub mod twofactor;
