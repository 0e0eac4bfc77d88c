//! Golden files (insta): the Compose rendering of every `examples/*.yaml` is checked in under
//! `tests/snapshots/`. After an intended change: `INSTA_UPDATE=always cargo test -p
//! devstack-render-compose --test examples`, then review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use devstack_core::test_support as fixtures;

#[test]
fn every_example_matches_its_golden_file() {
    let examples = fixtures::examples();
    assert!(!examples.is_empty(), "no examples/*.yaml found");
    for (name, yaml) in &examples {
        let plan = fixtures::plan_example(name, yaml).unwrap_or_else(|e| panic!("{e}"));
        let rendered = devstack_render_compose::render(&plan)
            .unwrap_or_else(|e| panic!("{name}: render: {e}"));
        insta::assert_snapshot!(format!("{name}.compose"), rendered);
    }
}
