//! The accounts domain from the outside, over real HTTP on the dev server (and, in `aws`, on the AWS adapters
//! over moto): one module per route group, the walks through whole flows in `flow`, and what every route does
//! with a bad request in `every_route`. Each server uses the cheap test Argon2 parameters and has its rate limits
//! off unless the test turns them on; time moves only through the server's `ManualClock`.

mod admin_users;
mod api_keys;
mod audit;
mod avatar;
mod aws;
mod bulk;
mod delivery;
mod erasure;
mod every_route;
mod exports;
mod flow;
mod login;
mod profile;
mod rate_limits;
mod recovery;
mod register;
mod round_trips;
mod secrets;
mod sessions;
mod shared_networks;
mod stats;
mod tokens;
mod two_factor;
