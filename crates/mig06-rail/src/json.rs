//! The one way the rail reads JSON it did not write: requests, executor receipts, evidence
//! tokens and the records inside them, the policy bundle's vocabulary, and audit log lines.
//!
//! The decision that matters: a document that repeats a member name in any object, at any
//! depth, is refused (I-JSON, RFC 7493 §2.3). `serde_json` keeps one of the two values (a
//! `Value` keeps the last, a derived struct refuses only its own fields, a map keeps the last),
//! so two readers of the same bytes could judge two different documents. Here the repeat is
//! found while the bytes are parsed, and the refusal names where the *second* occurrence
//! stands, as a field path built from recognised keys only (any other key is `<key#N>`, the
//! Nth unrecognised name of its object in document order), never a value or an unrecognised
//! name.
//!
//! Three entry points share one parse: [`read_value`] (a `Value`), [`read`] (a typed value: a
//! borrowing check pass that allocates nothing but the keys it must escape, then the typed
//! parse), and [`read_document`] (crate-internal: keeps the value of each repeat, so a PHI scan
//! can read both occurrences before the repeat is refused).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::phi_scan::{Path, Seg};

/// Why bytes were not read (no variant carries the document's contents).
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The bytes are not one JSON value (syntax, UTF-8, nesting beyond the parser's limit, or
    /// trailing bytes).
    #[error("not JSON (line {line}, column {column})")]
    Syntax {
        /// Line of the first error (1-based).
        line: usize,
        /// Column of the first error (1-based).
        column: usize,
    },
    /// An object repeats a member name.
    #[error("a member name is repeated at {path}")]
    RepeatedMember {
        /// Where the second occurrence stands (recognised keys by name, others as `<key#N>`).
        path: String,
    },
    /// JSON without repeats that is not the expected shape ([`read`] only). The source is
    /// `serde_json`'s message, which may quote the document: show it only for files the
    /// operator wrote.
    #[error("not the expected shape (line {line}, column {column})")]
    Shape {
        /// Line of the first error (1-based).
        line: usize,
        /// Column of the first error (1-based).
        column: usize,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// Which member names a reader recognises: they are shown by name in a path.
pub type Known<'a> = &'a dyn Fn(&str) -> bool;

// INV-CLOSED-INPUT: every reader of JSON the rail did not write goes through this module, which
// refuses a repeated member name at any depth.
/// Reads one JSON value, refusing any repeated member name.
///
/// # Errors
/// [`JsonError::Syntax`] or [`JsonError::RepeatedMember`].
pub fn read_value(bytes: &[u8], known: Known<'_>) -> Result<Value, JsonError> {
    let mut ctx = Build {
        known,
        path: Vec::new(),
        repeats: None,
        refused: None,
    };
    let value = parse(bytes, BuildSeed { ctx: &mut ctx });
    finish(value, ctx.refused)
}

/// Reads one JSON value into `T`, refusing any repeated member name first (whatever `T`'s
/// own deserialisation would do with it).
///
/// # Errors
/// [`JsonError::Syntax`], [`JsonError::RepeatedMember`] or [`JsonError::Shape`].
pub fn read<T: DeserializeOwned>(bytes: &[u8], known: Known<'_>) -> Result<T, JsonError> {
    let mut ctx = Check {
        known,
        refused: None,
    };
    let checked = parse(bytes, CheckSeed { ctx: &mut ctx });
    finish(checked, ctx.refused)?;
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => JsonError::Shape {
            line: e.line(),
            column: e.column(),
            source: e,
        },
        serde_json::error::Category::Io
        | serde_json::error::Category::Syntax
        | serde_json::error::Category::Eof => syntax(&e),
    })
}

/// A type whose every JSON object is a derived struct (no map, no `Value`, no `flatten`), so
/// serde's derive itself refuses a repeated member at every depth (`duplicate field`): a typed
/// parse that succeeds has read a document without repeats. Implemented only where a test
/// shows it (the audit record: `audit/wire.rs`).
pub trait ClosedObjects: DeserializeOwned {}

/// Reads one JSON value into a [`ClosedObjects`] type: the same answers as [`read`], in one
/// pass when the bytes are good (what `audit verify` reads a million times); the check pass
/// runs only after a failed parse, to name a repeated member where it stands.
///
/// # Errors
/// [`JsonError::Syntax`], [`JsonError::RepeatedMember`] or [`JsonError::Shape`].
pub fn read_closed<T: ClosedObjects>(bytes: &[u8], known: Known<'_>) -> Result<T, JsonError> {
    serde_json::from_slice(bytes).or_else(|_| read(bytes, known))
}

/// A document read with its repeats kept: the first occurrence of each name in `value`, every
/// later one in `repeats`, in document order.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// The document, first occurrences only.
    pub(crate) value: Value,
    /// Every later occurrence of a name in its object.
    pub(crate) repeats: Vec<Repeat>,
}

/// A later occurrence of a member name.
#[derive(Debug, Clone)]
pub(crate) struct Repeat {
    /// Where it stands.
    pub(crate) path: Path,
    /// Its name (never shown: a scan may pass it to the detector as context).
    pub(crate) name: String,
    /// Its value.
    pub(crate) value: Value,
}

/// Reads one JSON value keeping every repeated member (for a scan that must see both
/// occurrences before the repeat is refused).
///
/// # Errors
/// [`JsonError::Syntax`] only.
pub(crate) fn read_document(bytes: &[u8], known: Known<'_>) -> Result<Document, JsonError> {
    let mut ctx = Build {
        known,
        path: Vec::new(),
        repeats: Some(Vec::new()),
        refused: None,
    };
    let value = parse(bytes, BuildSeed { ctx: &mut ctx });
    let value = finish(value, ctx.refused)?;
    Ok(Document {
        value,
        repeats: ctx.repeats.unwrap_or_default(),
    })
}

/// Runs `seed` over the whole of `bytes` (trailing bytes refused).
fn parse<'de, S: DeserializeSeed<'de>>(
    bytes: &'de [u8],
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// The parse's result: a refused repeat (which `serde_json` reports as an error of its own
/// type) is told from a syntax error by the path the pass left.
fn finish<V>(result: Result<V, serde_json::Error>, refused: Option<Path>) -> Result<V, JsonError> {
    match (result, refused) {
        (Ok(v), None) => Ok(v),
        (Ok(_) | Err(_), Some(path)) => Err(JsonError::RepeatedMember {
            path: path.render(),
        }),
        (Err(e), None) => Err(syntax(&e)),
    }
}

fn syntax(e: &serde_json::Error) -> JsonError {
    JsonError::Syntax {
        line: e.line(),
        column: e.column(),
    }
}

/// A member name as read: borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

/// Objects with more members than this are indexed by a hash set (a linear search below).
const LINEAR: usize = 16;

/// The distinct names of one object, in document order.
#[derive(Default)]
struct Seen<'de> {
    names: Vec<Cow<'de, str>>,
    index: Option<HashMap<Cow<'de, str>, usize>>,
}

impl<'de> Seen<'de> {
    /// Records `name`: `Ok` with its position when it is new, `Err` with the position of its
    /// first occurrence when it is a repeat.
    #[expect(
        clippy::ptr_arg,
        reason = "the name is kept as the borrowed or owned Cow it arrived as, without a copy"
    )]
    fn insert(&mut self, name: &Cow<'de, str>) -> Result<usize, usize> {
        let present = match &self.index {
            Some(map) => map.get(name.as_ref()).copied(),
            None => self.names.iter().position(|n| n == name),
        };
        if let Some(at) = present {
            return Err(at);
        }
        let at = self.names.len();
        self.names.push(name.clone());
        if let Some(map) = &mut self.index {
            map.insert(name.clone(), at);
        } else if self.names.len() > LINEAR {
            self.index = Some(
                self.names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), i))
                    .collect(),
            );
        }
        Ok(at)
    }

    /// The path segment of the name at position `at`: its name when recognised, else
    /// `<key#N>` with N its rank among the object's unrecognised names (for an error: it
    /// walks the names before it).
    fn seg(&self, at: usize, known: Known<'_>) -> Seg {
        let Some(name) = self.names.get(at) else {
            return Seg::Unknown(0);
        };
        if known(name) {
            return Seg::Key(name.to_string());
        }
        let rank = self.names.iter().take(at + 1).filter(|n| !known(n)).count();
        Seg::Unknown(rank)
    }
}

/// The check pass of [`read`]: walks the document, keeps nothing but the names of the object
/// it is in, and records the path of the first repeat while the error unwinds.
struct Check<'k> {
    known: Known<'k>,
    refused: Option<Path>,
}

struct CheckSeed<'c, 'k> {
    ctx: &'c mut Check<'k>,
}

impl<'de> DeserializeSeed<'de> for CheckSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CheckSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            match seq.next_element_seed(CheckSeed {
                ctx: &mut *self.ctx,
            }) {
                Ok(Some(())) => i += 1,
                Ok(None) => return Ok(()),
                Err(e) => {
                    prepend(&mut self.ctx.refused, Seg::Index(i));
                    return Err(e);
                }
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::default();
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let at = match seen.insert(&name) {
                Ok(at) => at,
                Err(first) => {
                    self.ctx.refused = Some(Path(vec![seen.seg(first, self.ctx.known)]));
                    return Err(A::Error::custom("repeated member name"));
                }
            };
            if let Err(e) = map.next_value_seed(CheckSeed {
                ctx: &mut *self.ctx,
            }) {
                let seg = seen.seg(at, self.ctx.known);
                prepend(&mut self.ctx.refused, seg);
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Puts `seg` in front of a refused path while the error unwinds (a syntax error has none).
fn prepend(path: &mut Option<Path>, seg: Seg) {
    if let Some(p) = path {
        p.0.insert(0, seg);
    }
}

/// The building pass of [`read_value`] and [`read_document`]: the value, with the path of
/// the member being read kept as it goes.
struct Build<'k> {
    known: Known<'k>,
    path: Vec<Seg>,
    /// `Some` to keep repeats, `None` to refuse the first.
    repeats: Option<Vec<Repeat>>,
    /// The path of a refused repeat.
    refused: Option<Path>,
}

struct BuildSeed<'c, 'k> {
    ctx: &'c mut Build<'k>,
}

impl<'de> DeserializeSeed<'de> for BuildSeed<'_, '_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BuildSeed<'_, '_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.ctx.path.push(Seg::Index(items.len()));
            let item = seq.next_element_seed(BuildSeed {
                ctx: &mut *self.ctx,
            });
            self.ctx.path.pop();
            match item? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut seen = Seen::default();
        // The segment of each distinct name, ranked as it first appears.
        let mut segs: Vec<Seg> = Vec::new();
        let mut unknown = 0;
        let mut out = Map::new();
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let (first, at) = match seen.insert(&name) {
                Ok(at) => {
                    segs.push(if (self.ctx.known)(&name) {
                        Seg::Key(name.to_string())
                    } else {
                        unknown += 1;
                        Seg::Unknown(unknown)
                    });
                    (true, at)
                }
                Err(at) => (false, at),
            };
            let seg = segs.get(at).cloned().unwrap_or(Seg::Unknown(0));
            if !first && self.ctx.repeats.is_none() {
                let mut path = self.ctx.path.clone();
                path.push(seg);
                self.ctx.refused = Some(Path(path));
                return Err(A::Error::custom("repeated member name"));
            }
            self.ctx.path.push(seg);
            let value = map.next_value_seed(BuildSeed {
                ctx: &mut *self.ctx,
            });
            let seg = self.ctx.path.pop();
            let value = value?;
            if first {
                out.insert(name.into_owned(), value);
            } else if let (Some(repeats), Some(seg)) = (&mut self.ctx.repeats, seg) {
                let mut path = self.ctx.path.clone();
                path.push(seg);
                repeats.push(Repeat {
                    path: Path(path),
                    name: name.into_owned(),
                    value,
                });
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn repeated_at(e: Result<impl fmt::Debug, JsonError>) -> String {
        match e {
            Err(JsonError::RepeatedMember { path }) => path,
            other => panic!("not refused as a repeat: {other:?}"),
        }
    }

    #[test]
    fn inv_closed_input_a_repeat_is_refused_where_its_second_occurrence_stands() {
        let doc = br#"{"a":[{"b":1},{"c":{"d":1,"e":2,"d":3}}]}"#;
        let known = |k: &str| k != "e";
        assert_eq!(repeated_at(read_value(doc, &known)), "$.a[1].c.d");
        assert_eq!(repeated_at(read::<Value>(doc, &known)), "$.a[1].c.d");
        // A map keeps the last value and a derived struct checks only its own fields: the
        // typed read refuses first.
        let map = br#"{"x":{"y":1,"y":2}}"#;
        assert_eq!(
            repeated_at(read::<BTreeMap<String, BTreeMap<String, u8>>>(map, &|_| {
                true
            })),
            "$.x.y"
        );
        assert!(serde_json::from_slice::<BTreeMap<String, BTreeMap<String, u8>>>(map).is_ok());
    }

    #[test]
    fn an_unrecognised_name_is_never_shown() {
        let doc = br#"{"ok":1,"secret-1":1,"secret-2":{"deeper":1,"deeper":2},"secret-1":2}"#;
        let path = repeated_at(read_value(doc, &|k| k == "ok"));
        assert_eq!(path, "$.<key#2>.<key#1>");
        let doc = br#"{"ok":1,"secret-1":1,"secret-2":2,"secret-1":2}"#;
        assert_eq!(repeated_at(read::<Value>(doc, &|k| k == "ok")), "$.<key#1>");
        assert!(
            !JsonError::RepeatedMember { path }
                .to_string()
                .contains("secret")
        );
    }

    #[test]
    fn a_document_keeps_every_occurrence_and_escaped_names_are_the_same_name() {
        let doc = read_document(
            br#"{"a":"one","\u0061":"two","b":[{"a":1,"a":2}]}"#,
            &|_| true,
        )
        .unwrap();
        assert_eq!(doc.value, serde_json::json!({"a": "one", "b": [{"a": 1}]}));
        let repeats: Vec<_> = doc
            .repeats
            .iter()
            .map(|r| (r.path.render(), r.value.clone()))
            .collect();
        assert_eq!(
            repeats,
            [
                ("$.a".to_owned(), Value::from("two")),
                ("$.b[0].a".to_owned(), Value::from(2))
            ]
        );
    }

    #[test]
    fn syntax_errors_and_trailing_bytes_are_not_json() {
        for bad in [&b"{"[..], b"{} {}", b"[1,]", b"\xff"] {
            assert!(
                matches!(read_value(bad, &|_| true), Err(JsonError::Syntax { .. })),
                "{bad:?}"
            );
            assert!(matches!(
                read::<Value>(bad, &|_| true),
                Err(JsonError::Syntax { .. })
            ));
        }
        assert!(matches!(
            read::<u8>(b"\"x\"", &|_| true),
            Err(JsonError::Shape { .. })
        ));
    }

    #[test]
    fn a_large_object_is_indexed_and_still_finds_its_repeat() {
        let mut text = String::from("{");
        for i in 0..100 {
            text.push_str(&format!("\"k{i}\":{i},"));
        }
        text.push_str("\"k42\":0}");
        assert_eq!(repeated_at(read_value(text.as_bytes(), &|_| true)), "$.k42");
    }

    /// A JSON tree whose objects may hold a name twice (serde_json's `Value` cannot).
    #[derive(Debug, Clone)]
    enum Tree {
        Leaf(Value),
        Arr(Vec<Tree>),
        Obj(Vec<(String, Tree)>),
    }

    impl Tree {
        fn text(&self) -> String {
            match self {
                Tree::Leaf(v) => v.to_string(),
                Tree::Arr(items) => format!(
                    "[{}]",
                    items.iter().map(Tree::text).collect::<Vec<_>>().join(",")
                ),
                Tree::Obj(members) => format!(
                    "{{{}}}",
                    members
                        .iter()
                        .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v.text()))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            }
        }

        /// Every object, with its path, in document order.
        fn objects(&self, path: String, out: &mut Vec<String>) {
            match self {
                Tree::Leaf(_) => {}
                Tree::Arr(items) => {
                    for (i, t) in items.iter().enumerate() {
                        t.objects(format!("{path}[{i}]"), out);
                    }
                }
                Tree::Obj(members) => {
                    out.push(path.clone());
                    for (k, t) in members {
                        t.objects(format!("{path}.{k}"), out);
                    }
                }
            }
        }

        /// Repeats a member of the `n`th object (document order) right after it, with
        /// `value`; the path of the repeat, or `None` when that object is empty.
        fn repeat(
            &mut self,
            n: &mut usize,
            pick: usize,
            value: &Tree,
            path: String,
        ) -> Option<String> {
            match self {
                Tree::Leaf(_) => None,
                Tree::Arr(items) => items
                    .iter_mut()
                    .enumerate()
                    .find_map(|(i, t)| t.repeat(n, pick, value, format!("{path}[{i}]"))),
                Tree::Obj(members) => {
                    if *n == 0 {
                        *n = usize::MAX;
                        if members.is_empty() {
                            return None;
                        }
                        let at = pick % members.len();
                        let name = members[at].0.clone();
                        members.insert(at + 1, (name.clone(), value.clone()));
                        return Some(format!("{path}.{name}"));
                    }
                    *n = n.saturating_sub(1);
                    members
                        .iter_mut()
                        .find_map(|(k, t)| t.repeat(n, pick, value, format!("{path}.{k}")))
                }
            }
        }
    }

    fn tree() -> impl Strategy<Value = Tree> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z ]{0,6}".prop_map(Value::from),
        ]
        .prop_map(Tree::Leaf);
        leaf.prop_recursive(5, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Tree::Arr),
                prop::collection::btree_map("[a-z]{1,3}", inner, 0..5)
                    .prop_map(|m| Tree::Obj(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn inv_closed_input_a_repeat_at_any_depth_is_refused_by_every_entry_point(
            t in tree(), which in 0usize..8, pick in any::<usize>(), extra in tree()
        ) {
            let clean = t.text();
            let parsed: Value = serde_json::from_str(&clean).unwrap();
            prop_assert_eq!(read_value(clean.as_bytes(), &|_| true).unwrap(), parsed.clone());
            prop_assert_eq!(read::<Value>(clean.as_bytes(), &|_| true).unwrap(), parsed.clone());
            let mut objects = Vec::new();
            t.objects("$".to_owned(), &mut objects);
            prop_assume!(!objects.is_empty());
            let mut dup = t.clone();
            let mut n = which % objects.len();
            let Some(path) = dup.repeat(&mut n, pick, &extra, "$".to_owned()) else {
                return Ok(());
            };
            let text = dup.text();
            prop_assert_eq!(repeated_at(read_value(text.as_bytes(), &|_| true)), path.clone());
            prop_assert_eq!(repeated_at(read::<Value>(text.as_bytes(), &|_| true)), path.clone());
            let doc = read_document(text.as_bytes(), &|_| true).unwrap();
            prop_assert_eq!(doc.value, parsed);
            prop_assert_eq!(doc.repeats.len(), 1);
            prop_assert_eq!(doc.repeats[0].path.render(), path);
            prop_assert_eq!(&doc.repeats[0].value, &serde_json::from_str::<Value>(&extra.text()).unwrap());
        }
    }
}
