//! INV-NO-BACKGROUND: the rail runs each attempt on its caller's thread and leaves no thread
//! behind.

use mig06_rail::outcome::TerminalCode as C;

use crate::common::*;

#[test]
fn inv_no_background_the_rail_spawns_no_thread_and_leaves_none() {
    let _alone = one_at_a_time();
    let (_s, _exec, rail) = draft_rail();
    // Warm up once (first use initialises lazy statics in dependencies).
    let _ = attempt(&rail, "operator-1", &request("discharge_summary"));
    let before = threads();
    let me = std::thread::current().id();
    for _ in 0..5 {
        let o = attempt(&rail, "operator-1", &request("discharge_summary"));
        assert_eq!(o.code, C::CompletedDraft);
        assert_eq!(std::thread::current().id(), me);
    }
    // At most as many: the other test's thread may exit meanwhile; a leak would add one.
    assert!(threads() <= before);
}
