//! The shape of the workspace, checked rather than hoped for: which crate may depend on which, what a function
//! crate looks like, and that every deployable binary is in the SAM template. The rules are the ones
//! `docs/architecture.md` states; a failure names the crate and the rule it breaks.

mod dependencies;
mod keys;
mod policies;
mod secrets;
