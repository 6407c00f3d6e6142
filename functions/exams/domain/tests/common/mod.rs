//! Helpers shared by the domain's integration tests.

use lectern_exams::hierarchy::{NewNode, NodeKind};
use lectern_exams::{Exams, Tier, Viewer};

/// An author and moderator.
pub fn staff() -> Viewer {
    Viewer {
        user_id: "01JSTAFF000000000000000000".into(),
        author: true,
        moderator: true,
        tier: Tier::Premium,
    }
}

/// An id from its text.
pub fn id(s: &str) -> lectern_shared::ids::Id {
    serde_json::from_value(serde_json::json!(s)).expect("an id")
}

/// A node of `kind` under `parent`, created by [`staff`] (courses at level 200).
pub async fn node(exams: &Exams, kind: NodeKind, parent: Option<&str>) -> String {
    let input = NewNode {
        kind,
        parent_id: parent.map(id),
        name: format!("{kind:?}"),
        code: None,
        description: None,
        level: (kind == NodeKind::Course).then_some(200),
    };
    exams
        .create_node(&staff(), input)
        .await
        .expect("node")
        .node_id
}
