//! Test support (feature `testing`): adapter factories for both backends, the moto harness, and the contract
//! suites that every adapter must pass.

pub mod aws;
pub mod contract;
pub mod embedded;
pub mod moto;
