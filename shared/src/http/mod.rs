//! HTTP conventions every function follows: routes under `/v1`, problem+json errors, request ids, the common
//! middleware stack, extractors that answer bad input with 4xx problems, cursor pagination, and the point where
//! authentication plugs in.

pub mod auth;
pub mod client;
pub mod constraints;
pub mod extract;
pub mod layers;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod request_id;
pub mod routes;

pub use extract::{Json, Path, Query};
pub use pagination::{CursorCodec, PageParams, Paginated};
pub use problem::{FieldError, Problem};
pub use routes::Routes;

/// Every route lives under this prefix.
pub const PREFIX: &str = "/v1";
