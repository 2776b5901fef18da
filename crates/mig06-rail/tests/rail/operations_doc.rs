//! `docs/OPERATIONS.md` and `mig06 explain` give operators the same text for every code, and
//! the page lists exactly the reason codes the rail can write.

use std::collections::BTreeSet;

fn doc() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/OPERATIONS.md"
    ))
    .unwrap()
}

#[test]
fn operations_doc_has_every_code_with_its_exact_explanation() {
    let doc = doc();
    for code in mig06_rail::outcome::ALL_CODES {
        let section = format!("### `{}`\n\n{}\n", code.as_str(), code.explanation());
        assert!(
            doc.contains(&section),
            "{code} is missing or differs in docs/OPERATIONS.md"
        );
    }
    for reason in mig06_rail::request::ALL_REASONS {
        assert!(
            doc.contains(&format!("`{}`", reason.as_str())),
            "{}",
            reason.as_str()
        );
    }
}

/// The first backticked word of each table row in the `## Reason codes` section.
fn documented_reasons(doc: &str) -> Vec<String> {
    let section = doc
        .split("\n## Reason codes\n")
        .nth(1)
        .expect("docs/OPERATIONS.md has a `## Reason codes` section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(code, _)| code.to_owned())
        .collect()
}

#[test]
fn operations_doc_lists_exactly_the_reason_codes() {
    let listed = documented_reasons(&doc());
    let listed_set: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(listed.len(), listed_set.len(), "a reason is listed twice");
    let codes: BTreeSet<&str> = mig06_rail::outcome::Reason::ALL
        .iter()
        .map(mig06_rail::outcome::Reason::code)
        .collect();
    let missing: Vec<_> = codes.difference(&listed_set).collect();
    let extra: Vec<_> = listed_set.difference(&codes).collect();
    assert!(missing.is_empty(), "not in docs/OPERATIONS.md: {missing:?}");
    assert!(extra.is_empty(), "not a Reason code: {extra:?}");
}

#[test]
fn operations_doc_reason_rows_are_what_explain_prints() {
    let doc = doc();
    for reason in mig06_rail::outcome::Reason::ALL {
        let (codes, meaning) = reason.meaning();
        let row = format!("| `{}` | {codes} | {meaning} |\n", reason.code());
        assert!(
            doc.contains(&row),
            "{} differs in docs/OPERATIONS.md",
            reason.code()
        );
        assert_eq!(
            mig06_rail::outcome::Reason::lookup(&reason.code().to_ascii_uppercase())
                .map(|r| r.code()),
            Some(reason.code())
        );
    }
}
