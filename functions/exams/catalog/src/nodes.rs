//! Nodes of the hierarchy.

use axum::extract::State;
use axum::http::StatusCode;
use lectern_exams::hierarchy::{NewNode, Node, NodeChanges, ROOT};
use lectern_shared::http::auth::Identity;
use lectern_shared::http::{Json, PageParams, Paginated, Path, Query};
use lectern_shared::ids::Id;

use crate::{Ex, Result, reader};

/// One page of nodes under `parent`, with the cursor scoped to that list.
async fn page(
    exams: &lectern_exams::Exams,
    parent: &str,
    q: PageParams,
) -> Result<Json<Paginated<Node>>> {
    let limit = q.limit()?;
    let scope = format!("hierarchy:{parent}:children");
    let codec = &exams.platform.cursors;
    let cursor = codec.decode_opt(&scope, q.cursor.as_deref())?;
    let (nodes, next) = exams.children(parent, limit, cursor).await?;
    Ok(Json(codec.page(&scope, nodes, next)))
}

/// The institutions, oldest first.
#[utoipa::path(get, path = "/v1/hierarchy/institutions", tag = "hierarchy", security(("bearer" = []), ("api_key" = [])),
    params(PageParams), responses(
    (status = 200, body = Paginated<Node>),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope")))]
pub(crate) async fn list_institutions(
    State(exams): Ex,
    who: Identity,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<Node>>> {
    reader(&who)?;
    page(&exams, ROOT, q).await
}

/// Create a node under its parent: an institution (no parent), a faculty under an institution, a department
/// under a faculty, a course (with a level) under a department, a topic under a course.
#[utoipa::path(post, path = "/v1/hierarchy/nodes", tag = "hierarchy", security(("bearer" = []), ("api_key" = [])),
    request_body = NewNode, responses(
    (status = 201, body = Node),
    (status = 400, description = "`validation`: e.g. `parent_id` missing, unknown or of the wrong kind; a course without a level"),
    (status = 403, description = "`forbidden`: this needs `content:write` (instructors and admins)")))]
pub(crate) async fn create_node(
    State(exams): Ex,
    who: Identity,
    Json(input): Json<NewNode>,
) -> Result<(StatusCode, Json<Node>)> {
    let viewer = reader(&who)?;
    Ok((
        StatusCode::CREATED,
        Json(exams.create_node(&viewer, input).await?),
    ))
}

/// One node.
#[utoipa::path(get, path = "/v1/hierarchy/nodes/{node_id}", tag = "hierarchy", security(("bearer" = []), ("api_key" = [])),
    params(("node_id" = inline(Id), Path)), responses(
    (status = 200, body = Node),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope"),
    (status = 404, description = "No such node")))]
pub(crate) async fn get_node(
    State(exams): Ex,
    who: Identity,
    Path(node_id): Path<Id>,
) -> Result<Json<Node>> {
    reader(&who)?;
    Ok(Json(exams.node(node_id.as_str()).await?))
}

/// Change a node's name, code, description or (courses) level.
#[utoipa::path(patch, path = "/v1/hierarchy/nodes/{node_id}", tag = "hierarchy", security(("bearer" = []), ("api_key" = [])),
    params(("node_id" = inline(Id), Path)), request_body = NodeChanges, responses(
    (status = 200, body = Node),
    (status = 400, description = "`validation`: e.g. a level on a node that is not a course"),
    (status = 403, description = "`forbidden`: this needs `content:write`"),
    (status = 404, description = "No such node"),
    (status = 409, description = "`stale-version`: the node changed since the version you sent")))]
pub(crate) async fn update_node(
    State(exams): Ex,
    who: Identity,
    Path(node_id): Path<Id>,
    Json(changes): Json<NodeChanges>,
) -> Result<Json<Node>> {
    let viewer = reader(&who)?;
    Ok(Json(
        exams
            .update_node(&viewer, node_id.as_str(), changes)
            .await?,
    ))
}

/// Delete a node that holds nothing.
#[utoipa::path(delete, path = "/v1/hierarchy/nodes/{node_id}", tag = "hierarchy", security(("bearer" = []), ("api_key" = [])),
    params(("node_id" = inline(Id), Path)), responses(
    (status = 204, description = "Deleted"),
    (status = 403, description = "`forbidden`: this needs `content:write`"),
    (status = 404, description = "No such node"),
    (status = 409, description = "`has-children`: nodes or questions still hang below it")))]
pub(crate) async fn delete_node(
    State(exams): Ex,
    who: Identity,
    Path(node_id): Path<Id>,
) -> Result<StatusCode> {
    let viewer = reader(&who)?;
    exams.delete_node(&viewer, node_id.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The nodes directly below a node, oldest first.
#[utoipa::path(get, path = "/v1/hierarchy/nodes/{node_id}/children", tag = "hierarchy", security(("bearer" = []), ("api_key" = [])),
    params(("node_id" = inline(Id), Path), PageParams), responses(
    (status = 200, body = Paginated<Node>),
    (status = 403, description = "`forbidden`: an API key without the `content:read` scope"),
    (status = 404, description = "No such node")))]
pub(crate) async fn list_children(
    State(exams): Ex,
    who: Identity,
    Path(node_id): Path<Id>,
    Query(q): Query<PageParams>,
) -> Result<Json<Paginated<Node>>> {
    reader(&who)?;
    exams.node(node_id.as_str()).await?;
    page(&exams, node_id.as_str(), q).await
}
