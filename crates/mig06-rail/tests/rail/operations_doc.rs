//! `docs/OPERATIONS.md` and `mig06 explain` give operators the same text for every code.

#[test]
fn operations_doc_has_every_code_with_its_exact_explanation() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/OPERATIONS.md"
    ))
    .unwrap();
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
