//! The notification centre from the outside, over real HTTP on the dev server: notifications delivered by the
//! worker (an achievement a child earns reaching the parent in-app and by email, preferences and quiet hours
//! deciding the channels, a redelivered job delivering nothing twice), the inbox routes and their owners, the
//! preferences, and the storage round trips. Each server uses the cheap test Argon2 parameters and has its rate
//! limits off; time moves only through the server's `ManualClock`.

mod aws;
mod delivery;
mod inbox;
mod preferences;
mod round_trips;
mod scheduled;
