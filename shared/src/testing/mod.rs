//! Test support (feature `testing`): adapter factories for both backends, the moto harness, the contract
//! suites that every adapter must pass, and golden files for stored items.

pub mod aws;
pub mod contract;
pub mod counting;
pub mod embedded;
pub mod faults;
pub mod golden;
pub mod moto;
