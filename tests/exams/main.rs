//! The exams domain from the outside, over real HTTP on the dev server: one module per route group. Each server
//! uses the cheap test Argon2 parameters and has its rate limits off; time moves only through the server's
//! `ManualClock`.

mod assignments;
mod aws;
mod certificates;
mod erasure;
mod grading_queue;
mod hierarchy;
mod moderation;
mod questions;
mod random;
mod round_trips;
mod seed;
mod sittings;
mod statistics;
