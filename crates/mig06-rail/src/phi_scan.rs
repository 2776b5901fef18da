//! The PHI scan of a JSON value: requests, receipts and the records inside evidence tokens.
//!
//! The decision that matters: what a string is scanned as is decided by its *position* (a
//! [`Slot`] the caller assigns to a field path), never by a key name alone, and a finding names
//! only the path and the kinds. Keys are scanned too, unless the caller recognises them, and an
//! unrecognised key appears in a path only as `<key#N>`, so a finding never repeats what it
//! found.

use mig06_phi::PhiKind;
use serde_json::{Map, Value};

use crate::ids::{OpaqueId, RequestId, Sha256Digest};
use crate::outcome::{Reason, Rejection, TerminalCode};

/// The PHI scanner the rail uses: the production one is `mig06_phi::Detector`.
pub trait PhiScan {
    /// Kinds found in `text` under `key`; empty when clean.
    fn kinds(&self, key: Option<&str>, text: &str) -> Vec<PhiKind>;
}

impl PhiScan for mig06_phi::Detector {
    fn kinds(&self, key: Option<&str>, text: &str) -> Vec<PhiKind> {
        self.scan(key, text)
    }
}

/// Deepest JSON nesting scanned (and accepted in a request).
pub(crate) const MAX_DEPTH: usize = 8;

/// A field path made only of recognised keys, indices and `<key#N>` placeholders.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path(pub(crate) Vec<Seg>);

/// One step of a [`Path`].
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    /// A recognised key, shown by name.
    Key(String),
    /// The Nth unrecognised key of its object, shown as `<key#N>`.
    Unknown(usize),
    /// An array index.
    Index(usize),
}

impl Path {
    pub(crate) fn child(&self, seg: Seg) -> Self {
        let mut p = self.clone();
        p.0.push(seg);
        p
    }
    pub(crate) fn key(&self, k: &'static str) -> Self {
        self.child(Seg::Key(k.to_owned()))
    }
    pub(crate) fn render(&self) -> String {
        let mut s = String::from("$");
        for seg in &self.0 {
            match seg {
                Seg::Key(k) => {
                    s.push('.');
                    s.push_str(k);
                }
                Seg::Unknown(n) => s.push_str(&format!(".<key#{n}>")),
                Seg::Index(i) => s.push_str(&format!("[{i}]")),
            }
        }
        s
    }
    /// `DENIED_REQUEST_INVALID` here.
    pub(crate) fn invalid(&self, reason: Reason) -> Rejection {
        Rejection::new(TerminalCode::DeniedRequestInvalid, self.render(), reason)
    }
}

/// What the scan found: the first hit in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// PHI at `field`.
    Phi {
        /// The rendered field path.
        field: String,
        /// The kinds found.
        kinds: Vec<PhiKind>,
    },
    /// Nesting deeper than [`MAX_DEPTH`] at `field`: not scanned further, and refused.
    TooDeep {
        /// The rendered field path.
        field: String,
    },
}

impl From<Finding> for Rejection {
    fn from(f: Finding) -> Self {
        match f {
            Finding::Phi { field, kinds } => {
                Rejection::new(TerminalCode::AbortedPhiDetected, field, Reason::Phi(kinds))
            }
            Finding::TooDeep { field } => {
                Rejection::new(TerminalCode::DeniedRequestInvalid, field, Reason::TooDeep)
            }
        }
    }
}

/// PHI inside an evidence token: the path within the token and the kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenPhi {
    /// The path within the token (`""` for its text, `.record.<field>` for a record field).
    pub(crate) within: String,
    /// The kinds found.
    pub(crate) kinds: Vec<PhiKind>,
}

/// What a position holds, for the scan (decided by position, never by a key name alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Any value: scanned.
    Plain,
    /// An evidence token: its text is base64url and is not scanned; the record it carries is
    /// decoded and scanned by the walk's token scanner.
    Token,
    /// A position whose closed grammar is an identifier. A value that passes that grammar's
    /// strict parse is not re-read by the detector; any other value is scanned like any value.
    Id(IdGrammar),
}

/// The identifier grammars a position can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdGrammar {
    /// [`RequestId`].
    Request,
    /// [`OpaqueId`].
    Opaque,
    /// [`Sha256Digest`].
    Digest,
}

impl IdGrammar {
    fn accepts(self, s: &str) -> bool {
        match self {
            Self::Request => RequestId::parse(s).is_ok(),
            Self::Opaque => OpaqueId::parse(s).is_ok(),
            Self::Digest => Sha256Digest::parse(s).is_ok(),
        }
    }
}

/// Scans every string and every unrecognised key of `v`; the first hit in document order wins.
///
/// # Errors
/// The first [`Finding`].
pub(crate) fn scan_value(
    v: &Value,
    path_keys: &dyn Fn(&str) -> bool,
    phi: &dyn PhiScan,
) -> Result<(), Finding> {
    Walk {
        known: path_keys,
        slot: &|_| Slot::Plain,
        token: &|_| Ok(()),
        phi,
    }
    .value(v, None, &Path::default(), 0)
}

/// Scans a document read with its repeats kept (both occurrences of a repeated member), as
/// [`scan_value`] does a value.
///
/// # Errors
/// The first [`Finding`].
pub(crate) fn scan_document(
    doc: &crate::json::Document,
    path_keys: &dyn Fn(&str) -> bool,
    phi: &dyn PhiScan,
) -> Result<(), Finding> {
    Walk {
        known: path_keys,
        slot: &|_| Slot::Plain,
        token: &|_| Ok(()),
        phi,
    }
    .document(doc)
}

/// One scan: which keys are recognised, what each position holds, how a token is scanned.
pub(crate) struct Walk<'a> {
    /// Keys shown by name in paths (and not scanned themselves).
    pub(crate) known: &'a dyn Fn(&str) -> bool,
    /// What each position holds.
    pub(crate) slot: &'a dyn Fn(&Path) -> Slot,
    /// The scan of a [`Slot::Token`] value.
    pub(crate) token: &'a dyn Fn(&str) -> Result<(), TokenPhi>,
    /// The detector.
    pub(crate) phi: &'a dyn PhiScan,
}

impl Walk<'_> {
    /// Scans a document read with its repeats kept: the value, then every later occurrence of
    /// a repeated member where it stands, so PHI in either occurrence is found.
    pub(crate) fn document(&self, doc: &crate::json::Document) -> Result<(), Finding> {
        self.value(&doc.value, None, &Path::default(), 0)?;
        for r in &doc.repeats {
            self.value(&r.value, Some(&r.name), &r.path, r.path.0.len())?;
        }
        Ok(())
    }

    /// Scans `v`, found under `key` at `path`, `depth` levels down.
    pub(crate) fn value(
        &self,
        v: &Value,
        key: Option<&str>,
        path: &Path,
        depth: usize,
    ) -> Result<(), Finding> {
        if depth > MAX_DEPTH {
            return Err(Finding::TooDeep {
                field: path.render(),
            });
        }
        match v {
            Value::String(s) => self.string(s, key, path),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.value(item, key, &path.child(Seg::Index(i)), depth + 1)?;
                }
                Ok(())
            }
            Value::Object(map) => self.object(map, path, depth),
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        }
    }

    fn string(&self, s: &str, key: Option<&str>, path: &Path) -> Result<(), Finding> {
        let kinds = match (self.slot)(path) {
            Slot::Id(grammar) if grammar.accepts(s) => return Ok(()),
            Slot::Token => {
                return (self.token)(s).map_err(|t| Finding::Phi {
                    field: format!("{}{}", path.render(), t.within),
                    kinds: t.kinds,
                });
            }
            Slot::Id(_) | Slot::Plain => self.phi.kinds(key, s),
        };
        found(path, kinds)
    }

    fn object(&self, map: &Map<String, Value>, path: &Path, depth: usize) -> Result<(), Finding> {
        let mut unknown = 0;
        for (k, item) in map {
            let known = (self.known)(k);
            let seg = if known {
                Seg::Key(k.clone())
            } else {
                unknown += 1;
                Seg::Unknown(unknown)
            };
            let child = path.child(seg);
            if !known {
                found(&child, self.phi.kinds(None, k))?;
            }
            self.value(item, Some(k), &child, depth + 1)?;
        }
        Ok(())
    }
}

/// A finding at `path` when any kind was found.
fn found(path: &Path, kinds: Vec<PhiKind>) -> Result<(), Finding> {
    if kinds.is_empty() {
        Ok(())
    } else {
        Err(Finding::Phi {
            field: path.render(),
            kinds,
        })
    }
}
