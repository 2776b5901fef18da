//! `docs/INVARIANTS.md` must stay true: every test it names exists, and carries its invariant's ID.

use std::path::Path;

#[test]
fn inv_non_regression_every_invariant_names_real_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let table = std::fs::read_to_string(root.join("docs/INVARIANTS.md")).unwrap();
    let mut ids = 0;
    for row in table.lines().filter(|l| l.starts_with("| INV-")) {
        ids += 1;
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let id = cells[1];
        let prefix = id.to_lowercase().replace('-', "_");
        let tests = cells[5];
        let mut named = 0;
        for item in tests.split('`').skip(1).step_by(2) {
            let (path, name) = item
                .rsplit_once("::")
                .unwrap_or_else(|| panic!("{id}: bad test reference {item}"));
            let path = path.replacen("rail/", "crates/mig06-rail/", 1).replacen(
                "cli/",
                "crates/mig06/",
                1,
            );
            let src = std::fs::read_to_string(root.join(&path))
                .unwrap_or_else(|e| panic!("{id}: {path}: {e}"));
            assert!(
                src.contains(&format!("fn {name}(")),
                "{id}: no test fn {name} in {path}"
            );
            assert!(
                name.starts_with(&prefix),
                "{id}: test {name} does not carry the ID"
            );
            named += 1;
        }
        assert!(named > 0, "{id} names no test");
        assert!(!cells[4].is_empty(), "{id} names no enforcing code");
    }
    assert!(ids >= 20, "the table lists {ids} invariants");
}

/// A file or directory the table cites, as a path from the repository root.
fn cited_path(item: &str) -> Option<String> {
    let item = item.split_whitespace().next()?;
    let path = if let Some(rest) = item.strip_prefix("rail/") {
        format!("crates/mig06-rail/{rest}")
    } else if let Some(rest) = item.strip_prefix("cli/") {
        format!("crates/mig06/{rest}")
    } else if item.starts_with("crates/") {
        item.to_owned()
    } else {
        return None;
    };
    Some(path.trim_end_matches(['.', ',', ';', ')']).to_owned())
}

/// An identifier the table cites (`Rail::attempt`, `FORBIDDEN_TRIGGER_WORDS`, `open()`): its
/// last path segment.
fn cited_identifier(item: &str) -> Option<&str> {
    let item = item.strip_suffix("()").unwrap_or(item);
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    let last = item.rsplit("::").next()?;
    (item.split("::").all(ident) && last.len() > 2).then_some(last)
}

fn rust_files(root: &Path, out: &mut Vec<std::path::PathBuf>) {
    if root.is_file() {
        out.push(root.to_owned());
        return;
    }
    let Ok(dir) = std::fs::read_dir(root) else {
        return;
    };
    for e in dir {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn contains_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text.get(..i).and_then(|b| b.chars().next_back());
        let after = text.get(i + word.len()..).and_then(|a| a.chars().next());
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !part(before) && !part(after)
    })
}

/// The invariant IDs written in `text` (`INV-` and upper-case words joined by `-`).
fn ids_in(text: &str) -> Vec<String> {
    text.match_indices("INV-")
        .map(|(i, _)| {
            let rest = text.get(i..).unwrap_or("");
            let end = rest
                .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'))
                .unwrap_or(rest.len());
            rest.get(..end)
                .unwrap_or("")
                .trim_end_matches('-')
                .to_owned()
        })
        .collect()
}

/// Whether `text` (Rust source) defines `name`: a `fn`, `struct`, `enum`, `trait`, `const`,
/// `static`, `type`, `mod` or macro of that name, or a field or enum variant (a line that
/// starts with the name, then `:`, `(`, `{` or `,`). With `owner` (`Owner::name`), the file must
/// also define or implement `Owner`. A name the file only uses is not a definition.
fn defines(text: &str, name: &str, owner: Option<&str>) -> bool {
    const KEYWORDS: [&str; 9] = [
        "fn",
        "struct",
        "enum",
        "trait",
        "const",
        "static",
        "type",
        "mod",
        "macro_rules!",
    ];
    let item = KEYWORDS
        .iter()
        .any(|k| contains_word(text, &format!("{k} {name}")));
    let member = text.lines().any(|line| {
        let line = line.trim_start();
        let line = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub(super) "))
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        line.strip_prefix(name)
            .is_some_and(|rest| rest.trim_start().starts_with([':', '(', '{', ',']))
    });
    let owned = owner.is_none_or(|owner| {
        ["struct", "enum", "trait"]
            .iter()
            .any(|k| contains_word(text, &format!("{k} {owner}")))
            || text.lines().any(|line| {
                let line = line.trim_start();
                line.starts_with("impl") && contains_word(line, owner)
            })
    });
    (item || member) && owned
}

/// Codes of the closed sets (`COMPLETED_DRAFT`, `ABORTED_INVARIANT`): cited as what the code
/// writes, defined once in `outcome.rs`.
fn is_terminal_code(root: &Path, word: &str) -> bool {
    let outcome = std::fs::read_to_string(root.join("crates/mig06-rail/src/outcome.rs")).unwrap();
    word.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        && outcome.contains(&format!("\"{word}\""))
}

/// An item of another crate (`std::panic::catch_unwind`): cited as what the code calls.
fn is_foreign(item: &str) -> bool {
    ["std::", "core::", "tokio::", "serde::", "libc::"]
        .iter()
        .any(|p| item.starts_with(p))
}

/// Every identifier the "enforced by" column cites after a Rust source file, up to the next
/// cited path, is defined in that file (the rule's enforcing code lives where the table says),
/// unless it is a code of the closed sets or another crate's item. Strings are cited quoted
/// (`"draft"`), and so are never taken for identifiers.
#[test]
fn inv_non_regression_cited_identifiers_are_defined_in_the_cited_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let table = std::fs::read_to_string(root.join("docs/INVARIANTS.md")).unwrap();
    let mut wrong = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| INV-")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let id = cells[1];
        let mut file: Option<String> = None;
        for item in cells[4].split('`').skip(1).step_by(2) {
            if let Some(path) = cited_path(item) {
                file = Some(path);
                continue;
            }
            let (Some(path), Some(name)) = (&file, cited_identifier(item)) else {
                continue;
            };
            if !(path.ends_with(".rs") && root.join(path).is_file())
                || is_foreign(item)
                || is_terminal_code(&root, name)
            {
                continue;
            }
            let item = item.strip_suffix("()").unwrap_or(item);
            let mut segments = item.rsplit("::");
            segments.next();
            let owner = segments.next();
            let text = std::fs::read_to_string(root.join(path)).unwrap();
            if !defines(&text, name, owner) {
                wrong.push(format!(
                    "{id}: cites `{item}` for {path}, which does not define it"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn defines_tells_a_definition_from_a_use() {
    let src = "pub struct Receipt { pub draft: bool }\nimpl Receipt {\n    pub(crate) fn check() {}\n}\nfn other() { Receipt::check(); let x = catch_unwind(); }\nenum Reason {\n    PriorNotContinuable,\n}\n";
    assert!(defines(src, "check", Some("Receipt")));
    assert!(defines(src, "Receipt", None));
    assert!(defines(src, "PriorNotContinuable", Some("Reason")));
    assert!(!defines(src, "catch_unwind", None));
    assert!(!defines(src, "check", Some("Ledger")));
    assert!(!defines(src, "admit", None));
}

/// Both directions: from a rule to its code (every file and identifier the "enforced by" column
/// cites exists, and every cited source file names the rule's ID at the enforcing site) and from
/// code to its rule (every ID a source file names is a row of the table).
#[test]
fn inv_non_regression_enforcing_code_exists_and_names_its_invariant_both_ways() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let table = std::fs::read_to_string(root.join("docs/INVARIANTS.md")).unwrap();
    let mut known = std::collections::BTreeSet::new();
    let mut sources = Vec::new();
    rust_files(&root.join("crates"), &mut sources);
    sources.retain(|p| p.components().any(|c| c.as_os_str() == "src"));
    let all_source: String = sources
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let mut wrong = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| INV-")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let id = cells[1];
        known.insert(id.to_owned());
        let items: Vec<&str> = cells[4].split('`').skip(1).step_by(2).collect();
        let mut files = Vec::new();
        // The source files the row names one by one: each names the ID where it enforces it.
        let mut sites = Vec::new();
        for path in items.iter().filter_map(|i| cited_path(i)) {
            let full = root.join(&path);
            if !full.exists() {
                wrong.push(format!("{id}: cites {path}, which does not exist"));
            }
            if full.is_file() && path.ends_with(".rs") && path.contains("/src/") {
                sites.push(full.clone());
            }
            rust_files(&full, &mut files);
        }
        let cited_text: String = files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        for word in items.iter().filter(|i| cited_path(i).is_none()) {
            let Some(ident) = cited_identifier(word) else {
                continue;
            };
            let text = if files.is_empty() {
                &all_source
            } else {
                &cited_text
            };
            if !contains_word(text, ident) {
                wrong.push(format!(
                    "{id}: cites `{word}`, which is not in the files it names"
                ));
            }
        }
        for f in &sites {
            let text = std::fs::read_to_string(f).unwrap();
            if !ids_in(&text).iter().any(|i| i == id) {
                wrong.push(format!(
                    "{id}: {} enforces it but does not name it (add `// {id}: …` at the enforcing code)",
                    f.strip_prefix(&root).unwrap_or(f).display()
                ));
            }
        }
    }
    for f in &sources {
        let text = std::fs::read_to_string(f).unwrap();
        for found in ids_in(&text) {
            if !known.contains(&found) {
                wrong.push(format!(
                    "{} names {found}, which is not in docs/INVARIANTS.md",
                    f.strip_prefix(&root).unwrap_or(f).display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
