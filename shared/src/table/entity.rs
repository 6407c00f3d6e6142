//! Stored types ("entities") and the items they become.
//!
//! Every kind of item in the table is declared once, as an [`EntityInfo`]: a stable name (stored in every item as
//! the [`ENTITY`](super::ENTITY) attribute), the shape of its primary key and of its index keys. Keys are built
//! from those shapes ([`Shape::build`], [`KeyLayout::key`], [`KeyLayout::query`]), never by joining strings by
//! hand, so a key format is written down in one place and the workspace can check that no two entities overlap
//! (see [`clashes`], run over every registry by `tests/architecture/keys.rs`).
//!
//! Types stored as whole items implement [`Entity`]: [`Entity::to_item`] adds the keys, index keys, `ttl` and
//! entity name to the type's own attributes, [`Entity::from_item`] reads it back. Records only ever written by
//! updates (counters) start their updates with [`EntityInfo::update`], which stamps the entity name too.
//!
//! Adding an entity: declare it with `EntityInfo::new("<name>", ...)` beside its type, list it in its crate's
//! `ENTITIES`, and add a golden test pinning its stored item (`lectern_shared::testing::golden`). The
//! architecture test fails when a declared entity is missing from the registries or from the golden files.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    ENTITY, Index, Item, Key, PK, Query, SK, SortKey, TTL, TableError, TableResult, Update, keys,
};

/// The shape of one key attribute: a fixed head, then named values, all joined with [`keys::SEP`].
///
/// `Shape::new("USER", &["user_id"])` is `USER#<user_id>`, `Shape::fixed("PROFILE")` is exactly `PROFILE`, and
/// `Shape::values(&["at", "event_id"])` is `<at>#<event_id>` (no head: the key is all values). Only the last value
/// may itself contain the separator (emails, idempotency keys), so a key reads back into its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// The literal start; empty when the key is all values.
    pub head: &'static str,
    /// The names of the values after the head, in order. For a primary key they double as the attribute names
    /// [`Entity::from_item`] restores them under when the type does not store them itself.
    pub parts: &'static [&'static str],
}

impl Shape {
    /// A key that is exactly `head`.
    pub const fn fixed(head: &'static str) -> Self {
        Self { head, parts: &[] }
    }

    /// `head#<part>#<part>...`.
    pub const fn new(head: &'static str, parts: &'static [&'static str]) -> Self {
        Self { head, parts }
    }

    /// `<part>#<part>...`, without a head.
    pub const fn values(parts: &'static [&'static str]) -> Self {
        Self { head: "", parts }
    }

    /// The key for these values (one per part, in order).
    pub fn build(&self, values: &[&str]) -> String {
        debug_assert_eq!(
            values.len(),
            self.parts.len(),
            "{self} takes {} values",
            self.parts.len()
        );
        self.join(values)
    }

    /// What every key of this shape starts with once its first values are known, for a `BeginsWith` query:
    /// `SESSION#` for `SESSION#<session_id>` and no values, `active#` for `<status>#<email_key>#<user_id>` and
    /// `["active"]`. The trailing separator keeps `USER#1` from matching `USER#12`.
    pub fn prefix(&self, leading: &[&str]) -> String {
        debug_assert!(leading.len() < self.parts.len() || self.parts.is_empty());
        let mut prefix = self.join(leading);
        if !prefix.is_empty() && !self.parts.is_empty() {
            prefix.push(keys::SEP);
        }
        prefix
    }

    /// The sort-key condition that selects exactly the keys of this shape (given the first values).
    pub fn begins_with(&self, leading: &[&str]) -> SortKey {
        if self.parts.is_empty() {
            return SortKey::Equals(self.head.to_string());
        }
        match self.prefix(leading) {
            prefix if prefix.is_empty() => SortKey::Any,
            prefix => SortKey::BeginsWith(prefix),
        }
    }

    /// Reads a key of this shape back into its named values; `None` when the key does not have this shape.
    pub fn parse<'k>(&self, key: &'k str) -> Option<Vec<(&'static str, &'k str)>> {
        if self.parts.is_empty() {
            return (key == self.head).then(Vec::new);
        }
        let rest = if self.head.is_empty() {
            key
        } else {
            key.strip_prefix(self.head)?.strip_prefix(keys::SEP)?
        };
        let values: Vec<&str> = rest.splitn(self.parts.len(), keys::SEP).collect();
        if values.len() != self.parts.len() || values.iter().any(|v| v.is_empty()) {
            return None;
        }
        Some(self.parts.iter().copied().zip(values).collect())
    }

    /// Whether a key has this shape.
    pub fn matches(&self, key: &str) -> bool {
        self.parse(key).is_some()
    }

    /// Whether a key could have both shapes: then the two can collide, and a `BeginsWith` query meant for one
    /// returns the other. Values are taken to be any non-empty string, so the answer errs towards "yes".
    pub fn overlaps(&self, other: &Shape) -> bool {
        match (self.open_prefix(), other.open_prefix()) {
            (None, None) => self.head == other.head,
            (Some(open), None) => other.head.len() > open.len() && other.head.starts_with(&open),
            (None, Some(open)) => self.head.len() > open.len() && self.head.starts_with(&open),
            (Some(a), Some(b)) => a.starts_with(&b) || b.starts_with(&a),
        }
    }

    /// What every key of an open shape (one with values) starts with; `None` for a fixed key.
    fn open_prefix(&self) -> Option<String> {
        if self.parts.is_empty() {
            None
        } else {
            Some(self.prefix(&[]))
        }
    }

    fn join(&self, values: &[&str]) -> String {
        let mut parts = Vec::with_capacity(values.len() + 1);
        if !self.head.is_empty() {
            parts.push(self.head);
        }
        parts.extend_from_slice(values);
        keys::compose(&parts)
    }
}

impl fmt::Display for Shape {
    /// `USER#<user_id>`, `PROFILE`, `<at>#<event_id>`: how the docs and test failures write a layout.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = self.head.is_empty();
        f.write_str(self.head)?;
        for part in self.parts {
            if !first {
                write!(f, "{}", keys::SEP)?;
            }
            first = false;
            write!(f, "<{part}>")?;
        }
        Ok(())
    }
}

/// The shapes of a partition key and a sort key (of the table or of one index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    pub pk: Shape,
    pub sk: Shape,
}

impl KeyLayout {
    pub const fn new(pk: Shape, sk: Shape) -> Self {
        Self { pk, sk }
    }

    /// The key for these values.
    pub fn key(&self, pk: &[&str], sk: &[&str]) -> Key {
        Key::new(self.pk.build(pk), self.sk.build(sk))
    }

    /// A query of one partition on the table, limited to the sort keys of this layout (other entities may share
    /// the partition).
    pub fn query(&self, pk: &[&str]) -> Query {
        Query::partition(self.pk.build(pk)).sk(self.sk.begins_with(&[]))
    }

    /// Whether some item could have both layouts' keys.
    pub fn overlaps(&self, other: &KeyLayout) -> bool {
        self.pk.overlaps(&other.pk) && self.sk.overlaps(&other.sk)
    }
}

impl fmt::Display for KeyLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} / {}", self.pk, self.sk)
    }
}

/// An entity's keys on one global secondary index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexLayout {
    pub index: Index,
    pub key: KeyLayout,
}

impl IndexLayout {
    pub const fn new(index: Index, key: KeyLayout) -> Self {
        Self { index, key }
    }

    /// The index key for these values, for [`Entity::index_keys`].
    pub fn key(&self, pk: &[&str], sk: &[&str]) -> IndexKey {
        IndexKey {
            index: self.index,
            key: self.key.key(pk, sk),
        }
    }

    /// A query of one partition of the index, limited to the sort keys of this layout.
    pub fn query(&self, pk: &[&str]) -> Query {
        self.key.query(pk).on(self.index)
    }
}

/// An item's key on one index (`pk`/`sk` hold the index's partition and sort key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKey {
    pub index: Index,
    pub key: Key,
}

/// What the workspace knows about one kind of stored item: its name and its key layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntityInfo {
    /// Stored in every item as the `entity` attribute. Stable: renaming it orphans stored items.
    pub name: &'static str,
    /// Shape of the primary key.
    pub primary: KeyLayout,
    /// Shapes of the index keys every item of this entity carries.
    pub indexes: &'static [IndexLayout],
}

impl EntityInfo {
    pub const fn new(name: &'static str, primary: KeyLayout) -> Self {
        Self {
            name,
            primary,
            indexes: &[],
        }
    }

    pub const fn indexed(self, indexes: &'static [IndexLayout]) -> Self {
        Self { indexes, ..self }
    }

    /// The primary key for these values.
    pub fn key(&self, pk: &[&str], sk: &[&str]) -> Key {
        self.primary.key(pk, sk)
    }

    /// A query of the items of this entity in one partition.
    pub fn query(&self, pk: &[&str]) -> Query {
        self.primary.query(pk)
    }

    /// An update that stamps the entity name, for every update of this entity's items: an update may create the
    /// item it changes, and the item must still say what it is.
    pub fn update(&self) -> Update {
        Update::new().set(ENTITY, self.name)
    }

    /// Checks that an item is one of this entity as declared: its name, its key shapes, exactly the declared
    /// index keys. Golden tests run it, so a layout that does not describe what is stored fails.
    pub fn check(&self, item: &Item) -> Result<(), String> {
        let name = item.get(ENTITY).and_then(Value::as_str);
        if name != Some(self.name) {
            return Err(format!(
                "`{}` is {name:?}, expected {:?}",
                ENTITY, self.name
            ));
        }
        let mut layouts = vec![(PK, SK, &self.primary)];
        layouts.extend(
            self.indexes
                .iter()
                .map(|i| (i.index.pk_attr(), i.index.sk_attr(), &i.key)),
        );
        for (pk, sk, layout) in layouts {
            for (attr, shape) in [(pk, &layout.pk), (sk, &layout.sk)] {
                match item.get(attr).and_then(Value::as_str) {
                    Some(v) if shape.matches(v) => {}
                    other => return Err(format!("`{attr}` is {other:?}, expected {shape}")),
                }
            }
        }
        for index in Index::ALL {
            let declared = self.indexes.iter().any(|i| i.index == index);
            if !declared && item.contains_key(index.pk_attr()) {
                return Err(format!("carries undeclared index {}", index.name()));
            }
        }
        Ok(())
    }
}

impl fmt::Display for EntityInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.name, self.primary)?;
        for index in self.indexes {
            write!(f, "; {} {}", index.index.name(), index.key)?;
        }
        f.write_str(")")
    }
}

/// Attributes the item layout owns: a stored type's own fields must not use these names.
pub const RESERVED: [&str; 8] = [PK, SK, "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", TTL, ENTITY];

/// A type stored as whole items (written with `put`). Its serde fields are the item's attributes; the item
/// layout (keys, index keys, `ttl`, entity name) comes from here.
///
/// Two serde conventions keep stored items as they always were:
/// - a value that is part of the key but not an attribute of its own (a token hash, a lowercased email) is a
///   field `#[serde(skip_serializing)]` named like its key part: [`Entity::from_item`] reads it out of the key;
/// - an expiry that is only the item's `ttl` is a field `#[serde(rename = "ttl", skip_serializing)]`:
///   [`Entity::ttl`] writes it, deserializing reads it back.
pub trait Entity: Serialize + DeserializeOwned {
    /// The name and key layout, declared once.
    const INFO: EntityInfo;

    /// The item's primary key (built with `Self::INFO.key`).
    fn key(&self) -> Key;

    /// The item's keys on the indexes `Self::INFO` declares.
    fn index_keys(&self) -> Vec<IndexKey> {
        Vec::new()
    }

    /// When the item expires (epoch seconds), if it does.
    fn ttl(&self) -> Option<i64> {
        None
    }

    /// The item as stored.
    fn to_item(&self) -> TableResult<Item> {
        let name = Self::INFO.name;
        let mut item = super::to_item(self)?;
        if let Some(attr) = RESERVED.iter().find(|a| item.contains_key(**a)) {
            return Err(TableError::Invalid(format!(
                "{name}: field `{attr}` is an attribute of the item layout"
            )));
        }
        let key = self.key();
        item.insert(PK.into(), key.pk.into());
        item.insert(SK.into(), key.sk.into());
        for IndexKey { index, key } in self.index_keys() {
            if !Self::INFO.indexes.iter().any(|i| i.index == index) {
                return Err(TableError::Invalid(format!(
                    "{name}: index {} is not declared",
                    index.name()
                )));
            }
            item.insert(index.pk_attr().into(), key.pk.into());
            item.insert(index.sk_attr().into(), key.sk.into());
        }
        if let Some(ttl) = self.ttl() {
            item.insert(TTL.into(), ttl.into());
        }
        item.insert(ENTITY.into(), name.into());
        Ok(item)
    }

    /// Reads an item back. Items written before the entity name was stored have none and are accepted; an item
    /// naming another entity is refused.
    fn from_item(mut item: Item) -> TableResult<Self> {
        let name = Self::INFO.name;
        match item.get(ENTITY) {
            None => {}
            Some(Value::String(stored)) if stored == name => {}
            Some(other) => {
                return Err(TableError::Invalid(format!(
                    "expected a {name} item, found entity {other}"
                )));
            }
        }
        let layout = Self::INFO.primary;
        let restored: Vec<(&str, String)> = [(PK, layout.pk), (SK, layout.sk)]
            .into_iter()
            .filter_map(|(attr, shape)| shape.parse(item.get(attr)?.as_str()?))
            .flatten()
            .map(|(part, value)| (part, value.to_string()))
            .collect();
        for (part, value) in restored {
            item.entry(part).or_insert(Value::String(value));
        }
        super::from_item(item)
    }
}

/// Every way two entities of `entities` can be confused: the same name, primary keys that can coincide (same or
/// overlapping partition and sort shapes, including one prefix that a `BeginsWith` of the other would catch), or
/// one index partition shared by two entities. Empty when the layouts are sound.
pub fn clashes(entities: &[EntityInfo]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, a) in entities.iter().enumerate() {
        for (j, index) in a.indexes.iter().enumerate() {
            if a.indexes[..j].iter().any(|o| o.index == index.index) {
                found.push(format!("{} declares {} twice", a.name, index.index.name()));
            }
        }
        for b in &entities[i + 1..] {
            if a.name == b.name {
                found.push(format!("two entities are named {:?}: {a} and {b}", a.name));
            }
            if a.primary.overlaps(&b.primary) {
                found.push(format!(
                    "{} ({}) and {} ({}) can share a key or a query",
                    a.name, a.primary, b.name, b.primary
                ));
            }
            for x in a.indexes {
                for y in b.indexes.iter().filter(|y| y.index == x.index) {
                    if x.key.pk.overlaps(&y.key.pk) {
                        found.push(format!(
                            "{} ({}) and {} ({}) share partitions of {}",
                            a.name,
                            x.key.pk,
                            b.name,
                            y.key.pk,
                            x.index.name()
                        ));
                    }
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const USER: Shape = Shape::new("USER", &["user_id"]);

    #[test]
    fn shapes_build_parse_and_print() {
        let mail = Shape::new("EMAIL", &["email_key"]);
        assert_eq!(mail.build(&["a#b@x.org"]), "EMAIL#a#b@x.org");
        assert_eq!(
            mail.parse("EMAIL#a#b@x.org"),
            Some(vec![("email_key", "a#b@x.org")])
        );
        assert_eq!(mail.parse("EMAIL#"), None);
        assert_eq!(mail.parse("EMAILS#x"), None);
        let free = Shape::values(&["status", "email_key", "user_id"]);
        assert_eq!(free.build(&["active", "a@x", "1"]), "active#a@x#1");
        assert_eq!(free.prefix(&["active"]), "active#");
        assert_eq!(free.begins_with(&[]), SortKey::Any);
        assert_eq!(
            Shape::fixed("PROFILE").begins_with(&[]),
            SortKey::Equals("PROFILE".into())
        );
        assert_eq!(
            Shape::new("SESSION", &["session_id"]).begins_with(&[]),
            SortKey::BeginsWith("SESSION#".into())
        );
        assert_eq!(free.to_string(), "<status>#<email_key>#<user_id>");
        assert_eq!(USER.to_string(), "USER#<user_id>");
        assert_eq!(Shape::fixed("COUNT").to_string(), "COUNT");
    }

    #[test]
    fn overlap_is_about_the_strings_a_shape_can_be() {
        let fixed = Shape::fixed;
        assert!(USER.overlaps(&USER));
        assert!(USER.overlaps(&Shape::new("USER", &["a", "b"])));
        assert!(
            USER.overlaps(&fixed("USER#ADMIN")),
            "a user id can be ADMIN"
        );
        assert!(USER.overlaps(&Shape::new("USER#X", &["a"])));
        assert!(Shape::values(&["x"]).overlaps(&fixed("ANY")));
        assert!(
            !USER.overlaps(&Shape::new("USERS", &["a"])),
            "the separator ends USER"
        );
        assert!(!USER.overlaps(&fixed("USER")));
        assert!(!USER.overlaps(&fixed("USER#")));
        assert!(!fixed("PROFILE").overlaps(&fixed("LOCKOUT")));
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Token {
        #[serde(skip_serializing)]
        hash: String,
        user_id: String,
        #[serde(rename = "ttl", skip_serializing)]
        expires_at: i64,
    }

    const BY_OWNER: IndexLayout =
        IndexLayout::new(Index::Gsi1, KeyLayout::new(USER, Shape::values(&["hash"])));

    impl Entity for Token {
        const INFO: EntityInfo = EntityInfo::new(
            "token",
            KeyLayout::new(Shape::new("TOKEN", &["hash"]), Shape::fixed("TOKEN")),
        )
        .indexed(&[BY_OWNER]);
        fn key(&self) -> Key {
            Self::INFO.key(&[&self.hash], &[])
        }
        fn index_keys(&self) -> Vec<IndexKey> {
            vec![BY_OWNER.key(&[&self.user_id], &[&self.hash])]
        }
        fn ttl(&self) -> Option<i64> {
            Some(self.expires_at)
        }
    }

    fn token() -> Token {
        Token {
            hash: "ab#c".into(),
            user_id: "u1".into(),
            expires_at: 99,
        }
    }

    #[test]
    fn an_entity_round_trips_through_its_item() {
        let item = token().to_item().unwrap();
        assert_eq!(
            Value::Object(item.clone()),
            serde_json::json!({
                "pk": "TOKEN#ab#c", "sk": "TOKEN", "gsi1pk": "USER#u1", "gsi1sk": "ab#c",
                "user_id": "u1", "ttl": 99, "entity": "token"
            })
        );
        assert_eq!(Token::INFO.check(&item), Ok(()));
        assert_eq!(Token::from_item(item).unwrap(), token());
    }

    #[test]
    fn items_of_other_entities_and_undeclared_layouts_are_refused() {
        let mut item = token().to_item().unwrap();
        item.insert(ENTITY.into(), "session".into());
        assert!(Token::from_item(item.clone()).is_err());
        assert!(Token::INFO.check(&item).is_err());
        item.remove(ENTITY);
        assert!(
            Token::from_item(item.clone()).is_ok(),
            "items from before the name was stored"
        );
        let mut item = token().to_item().unwrap();
        item.insert("gsi2pk".into(), "X".into());
        assert!(Token::INFO.check(&item).unwrap_err().contains("gsi2"));
        item.insert(SK.into(), "OTHER".into());
        assert!(Token::INFO.check(&item).unwrap_err().contains("`sk`"));
    }

    #[test]
    fn a_field_named_like_a_layout_attribute_is_refused() {
        #[derive(Serialize, Deserialize)]
        struct Bad {
            ttl: i64,
        }
        impl Entity for Bad {
            const INFO: EntityInfo =
                EntityInfo::new("bad", KeyLayout::new(Shape::fixed("B"), Shape::fixed("B")));
            fn key(&self) -> Key {
                Self::INFO.key(&[], &[])
            }
        }
        assert!(matches!(
            Bad { ttl: 1 }.to_item(),
            Err(TableError::Invalid(_))
        ));
    }

    #[test]
    fn clashes_name_each_kind_of_overlap() {
        let entity = |name, pk, sk| EntityInfo::new(name, KeyLayout::new(pk, sk));
        let profile = entity("profile", USER, Shape::fixed("PROFILE"));
        let session = entity("session", USER, Shape::new("SESSION", &["session_id"]));
        assert!(clashes(&[profile, session, Token::INFO]).is_empty());

        let twin = entity("twin", USER, Shape::fixed("PROFILE"));
        let device = entity("device", USER, Shape::new("SESSION", &["s", "d"]));
        let renamed = entity("profile", USER, Shape::fixed("OTHER"));
        const ROOT: IndexLayout = IndexLayout::new(
            Index::Gsi1,
            KeyLayout::new(Shape::fixed("USER#root"), Shape::fixed("X")),
        );
        let on_owner = entity("owner", Shape::fixed("O"), Shape::fixed("O")).indexed(&[ROOT]);
        for (other, says) in [
            (twin, "can share a key"),
            (device, "can share a key"),
            (renamed, "named"),
            (on_owner, "share partitions of gsi1"),
        ] {
            let found = clashes(&[profile, session, Token::INFO, other]);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(found[0].contains(says), "{found:?}");
        }
    }
}
