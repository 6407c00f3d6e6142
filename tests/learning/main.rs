//! The learning domain from the outside, over real HTTP on the dev server: one module per route group. Each
//! server uses the cheap test Argon2 parameters and has its rate limits off; time moves only through the
//! server's `ManualClock`.

mod achievements;
mod aws;
mod catalog;
mod controls;
mod credentials;
mod curriculum;
mod devices;
mod erasure;
mod flow;
mod leaderboards;
mod onboarding;
mod profiles;
mod progress;
mod recommendations;
mod reports;
mod round_trips;
mod seed;
