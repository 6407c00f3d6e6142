//! The academic hierarchy: institution → faculty → department → course (with a level) → topic.
//!
//! Every node is one `hierarchy_node` item (`NODE#<node_id>` / `NODE`), listed under its parent on `gsi1`
//! (`NODES#<parent_id>` / `<node_id>`; institutions under the fixed parent `root`), so the children of a node are
//! one query in creation order. A node keeps the ids of its ancestors (`path`), which questions copy into their
//! listings (course, course level) without walking up the tree.
//!
//! A node counts what hangs below it in `children` (child nodes, and for a topic its questions). Adding a child is
//! one transaction that writes the child and adds 1 to the parent (which must exist); deleting requires
//! `children = 0` in the same conditional delete. So a delete racing a new child either refuses (409
//! `has-children`) or wins before the child is written, whose transaction then fails: no orphan either way.
//! Edits change named attributes with an update conditioned on `version`, never a whole put, so they cannot
//! overwrite a concurrent change of the counter.

use lectern_shared::table::{
    Condition, Entity, EntityInfo, Index, IndexKey, IndexLayout, Key, KeyLayout, Shape, TableError,
    TxOp,
};
use serde::{Deserialize, Serialize};

use crate::errors::{ExamError, Result};
use crate::text;
use crate::{Exams, Viewer};

/// The kinds of node, from the top.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = HierarchyNodeKind)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Institution,
    Faculty,
    Department,
    Course,
    Topic,
}

impl NodeKind {
    pub const ALL: [NodeKind; 5] = [
        NodeKind::Institution,
        NodeKind::Faculty,
        NodeKind::Department,
        NodeKind::Course,
        NodeKind::Topic,
    ];

    /// The kind a node of this kind must hang under (`None`: a root).
    pub fn parent(self) -> Option<NodeKind> {
        match self {
            NodeKind::Institution => None,
            NodeKind::Faculty => Some(NodeKind::Institution),
            NodeKind::Department => Some(NodeKind::Faculty),
            NodeKind::Course => Some(NodeKind::Department),
            NodeKind::Topic => Some(NodeKind::Course),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Institution => "institution",
            NodeKind::Faculty => "faculty",
            NodeKind::Department => "department",
            NodeKind::Course => "course",
            NodeKind::Topic => "topic",
        }
    }
}

/// The parent id institutions are listed under.
pub const ROOT: &str = "root";
/// Longest node name.
pub const MAX_NAME: usize = 120;
/// Longest node code (e.g. `CSC 201`).
pub const MAX_CODE: usize = 20;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 2000;
/// Course levels: 100, 200, ... 900.
pub const LEVELS: std::ops::RangeInclusive<u16> = 1..=9;

/// Whether `level` is a course level (a multiple of 100 from 100 to 900).
pub fn valid_level(level: u16) -> bool {
    level.is_multiple_of(100) && LEVELS.contains(&(level / 100))
}

/// One node of the hierarchy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = HierarchyNode)]
pub struct Node {
    pub node_id: String,
    pub kind: NodeKind,
    /// The parent node; absent for institutions.
    pub parent_id: Option<String>,
    /// Ancestor ids from the institution down to the parent.
    pub path: Vec<String>,
    pub name: String,
    pub code: Option<String>,
    pub description: Option<String>,
    /// Courses only: 100, 200, ... 900.
    pub level: Option<u16>,
    /// Child nodes, and for a topic its questions.
    pub children: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Starts at 1; every edit adds 1. Send it back with an edit.
    pub version: u64,
}

/// Children of a node, in creation order.
pub const BY_PARENT: IndexLayout = IndexLayout::new(
    Index::Gsi1,
    KeyLayout::new(
        Shape::new("NODES", &["parent_id"]),
        Shape::values(&["node_id"]),
    ),
);

impl Entity for Node {
    const INFO: EntityInfo = EntityInfo::new(
        "hierarchy_node",
        KeyLayout::new(Shape::new("NODE", &["node_id"]), Shape::fixed("NODE")),
    )
    .indexed(&[BY_PARENT]);

    fn key(&self) -> Key {
        Self::key_of(&self.node_id)
    }

    fn index_keys(&self) -> Vec<IndexKey> {
        vec![BY_PARENT.key(
            &[self.parent_id.as_deref().unwrap_or(ROOT)],
            &[&self.node_id],
        )]
    }
}

impl Node {
    pub fn key_of(node_id: &str) -> Key {
        Self::INFO.key(&[node_id], &[])
    }

    /// The course this node is or belongs to (topics: their parent).
    pub fn course_id(&self) -> Option<&str> {
        match self.kind {
            NodeKind::Course => Some(&self.node_id),
            NodeKind::Topic => self.parent_id.as_deref(),
            _ => None,
        }
    }
}

/// A new node.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    pub kind: NodeKind,
    /// Required for every kind but `institution`, and must be of the kind above it.
    #[schema(schema_with = crate::schema::id_or_null)]
    pub parent_id: Option<lectern_shared::ids::Id>,
    #[schema(schema_with = crate::schema::node_name)]
    pub name: String,
    #[schema(schema_with = crate::schema::node_code)]
    #[serde(default)]
    pub code: Option<String>,
    #[schema(schema_with = crate::schema::node_description)]
    #[serde(default)]
    pub description: Option<String>,
    /// Required for courses (100, 200, ... 900); refused for other kinds.
    #[schema(schema_with = crate::schema::course_level_or_null)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub level: Option<u16>,
}

/// Changes to a node; absent fields stay as they are.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeChanges {
    /// The version you read (409 `stale-version` when it changed since).
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "crate::schema::whole_u64")]
    pub version: u64,
    #[schema(schema_with = crate::schema::node_name_or_null)]
    #[serde(default)]
    pub name: Option<String>,
    #[schema(schema_with = crate::schema::node_code)]
    #[serde(default)]
    pub code: Option<String>,
    #[schema(schema_with = crate::schema::node_description)]
    #[serde(default)]
    pub description: Option<String>,
    /// Courses only.
    #[schema(schema_with = crate::schema::course_level_or_null)]
    #[serde(
        default,
        deserialize_with = "lectern_shared::http::extract::whole_number"
    )]
    pub level: Option<u16>,
}

fn check_level(kind: NodeKind, level: Option<u16>, required: bool) -> Result<Option<u16>> {
    match (kind, level) {
        (NodeKind::Course, Some(l)) if valid_level(l) => Ok(Some(l)),
        (NodeKind::Course, Some(_)) => Err(ExamError::field(
            "level",
            "a course level is 100, 200, ... 900",
        )),
        (NodeKind::Course, None) if required => {
            Err(ExamError::field("level", "a course needs a level"))
        }
        (_, Some(_)) => Err(ExamError::field("level", "only courses have a level")),
        (_, None) => Ok(None),
    }
}

impl Exams {
    /// Reads one node.
    pub async fn node(&self, node_id: &str) -> Result<Node> {
        let item = self
            .table()
            .get(&Node::key_of(node_id))
            .await?
            .ok_or(ExamError::NotFound("node"))?;
        Ok(Node::from_item(item)?)
    }

    /// Creates a node under its parent (authors only).
    pub async fn create_node(&self, viewer: &Viewer, input: NewNode) -> Result<Node> {
        viewer.require_author()?;
        let name = text::trimmed("name", &input.name, MAX_NAME)?;
        let code = text::trimmed_opt("code", input.code.as_deref(), MAX_CODE)?;
        let description =
            text::trimmed_opt("description", input.description.as_deref(), MAX_DESCRIPTION)?;
        let level = check_level(input.kind, input.level, true)?;
        let parent = match (input.kind.parent(), &input.parent_id) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ExamError::field("parent_id", "institutions have no parent"));
            }
            (Some(kind), None) => {
                return Err(ExamError::field(
                    "parent_id",
                    format!("a {} needs a parent {}", input.kind.as_str(), kind.as_str()),
                ));
            }
            (Some(kind), Some(parent_id)) => {
                let parent = match self.node(parent_id.as_str()).await {
                    Err(ExamError::NotFound(_)) => {
                        return Err(ExamError::field("parent_id", "no such node"));
                    }
                    other => other?,
                };
                if parent.kind != kind {
                    return Err(ExamError::field(
                        "parent_id",
                        format!(
                            "a {} goes under a {}, not a {}",
                            input.kind.as_str(),
                            kind.as_str(),
                            parent.kind.as_str()
                        ),
                    ));
                }
                Some(parent)
            }
        };
        let now = self.epoch();
        let node = Node {
            node_id: lectern_shared::ids::new_id(),
            kind: input.kind,
            parent_id: parent.as_ref().map(|p| p.node_id.clone()),
            path: parent
                .as_ref()
                .map(|p| [p.path.clone(), vec![p.node_id.clone()]].concat())
                .unwrap_or_default(),
            name,
            code,
            description,
            level,
            children: 0,
            created_by: viewer.user_id.clone(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut ops = vec![TxOp::Put {
            item: node.to_item()?,
            condition: Condition::NotExists,
        }];
        if let Some(parent) = &parent {
            ops.push(TxOp::Update {
                key: parent.key(),
                update: Node::INFO.update().add("children", 1),
                condition: Condition::Exists,
            });
        }
        match self.table().transact(ops).await {
            Ok(()) => Ok(node),
            Err(TableError::TransactionCancelled { index: Some(1), .. }) => {
                Err(ExamError::field("parent_id", "no such node"))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Changes a node's name, code, description or level (authors only).
    pub async fn update_node(
        &self,
        viewer: &Viewer,
        node_id: &str,
        changes: NodeChanges,
    ) -> Result<Node> {
        viewer.require_author()?;
        let node = self.node(node_id).await?;
        let mut update = Node::INFO.update();
        if let Some(name) = &changes.name {
            update = update.set("name", text::trimmed("name", name, MAX_NAME)?);
        }
        if let Some(code) = &changes.code {
            update = update.set("code", text::trimmed("code", code, MAX_CODE)?);
        }
        if let Some(description) = &changes.description {
            update = update.set(
                "description",
                text::trimmed("description", description, MAX_DESCRIPTION)?,
            );
        }
        if let Some(level) = check_level(node.kind, changes.level, false)? {
            update = update.set("level", level);
        }
        let update = update
            .set("updated_at", self.epoch())
            .set("version", changes.version + 1);
        let condition = Condition::All(vec![
            Condition::Exists,
            Condition::equals("version", changes.version),
        ]);
        match self.table().update(&node.key(), update, condition).await {
            Ok(item) => Ok(Node::from_item(item)?),
            Err(TableError::ConditionFailed) => match self.node(node_id).await {
                Ok(current) => Err(ExamError::StaleVersion {
                    current: current.version,
                }),
                Err(e) => Err(e),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a node that holds nothing (authors only); 409 `has-children` otherwise.
    pub async fn delete_node(&self, viewer: &Viewer, node_id: &str) -> Result<()> {
        viewer.require_author()?;
        let node = self.node(node_id).await?;
        let mut ops = vec![TxOp::Delete {
            key: node.key(),
            condition: Condition::All(vec![Condition::Exists, Condition::equals("children", 0)]),
        }];
        if let Some(parent_id) = &node.parent_id {
            // The parent may have gone only if it had no children, which this node is: it is there.
            ops.push(TxOp::Update {
                key: Node::key_of(parent_id),
                update: Node::INFO.update().add("children", -1),
                condition: Condition::Exists,
            });
        }
        match self.table().transact(ops).await {
            Ok(()) => Ok(()),
            Err(TableError::TransactionCancelled { index: Some(0), .. }) => {
                match self.node(node_id).await {
                    Ok(current) => Err(ExamError::HasChildren {
                        children: current.children,
                    }),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// One page of the children of `parent_id` (institutions for [`ROOT`]), in creation order.
    pub async fn children(
        &self,
        parent_id: &str,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<(Vec<Node>, Option<String>)> {
        let page = self
            .table()
            .query(BY_PARENT.query(&[parent_id]).limit(limit).after(cursor))
            .await?;
        let nodes = page
            .items
            .into_iter()
            .map(Node::from_item)
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((nodes, page.cursor))
    }
}
