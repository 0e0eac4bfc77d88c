//! Parity of the inner-loop fields: a built image, host mounts and sync directories are the
//! same image, paths and modes on both sides, with the mechanism noted as a difference by
//! design.

use devstack_core::plan::{plan, PlanOptions};
use devstack_core::test_support::{manifest, stack_yaml};
use devstack_parity::{check, Verdict};

#[test]
fn build_mounts_and_sync_have_parity_by_design() {
    let stack = stack_yaml(&manifest(
        "demo",
        "services:\n  api:\n    build: {context: ./app}\n    mounts: [{source: /srv/docs, target: /mnt/docs, readOnly: true}]\n    sync: [{source: ./app/src, target: /app/src}]\n",
    ));
    let options = PlanOptions {
        base_dir: Some("/work/stack".into()),
        build_tags: [("api".to_string(), "c0ffee".to_string())].into(),
        ..PlanOptions::default()
    };
    let plan = plan(&stack, &options).expect("plans");
    let report = check(&plan).expect("parity");
    assert_eq!(report.mismatches(), 0, "{}", report.table());
    let row = |aspect: &str| {
        report
            .rows
            .iter()
            .find(|r| r.service == "api" && r.aspect == aspect)
            .unwrap_or_else(|| panic!("no {aspect} row"))
            .verdict
            .clone()
    };
    assert_eq!(row("image"), Verdict::Same);
    assert!(matches!(row("mounts"), Verdict::ByDesign(d) if d.contains("emptyDir")));
    // The sync directory is not a writable path of a read-only root on either side.
    assert_eq!(row("volumes"), Verdict::Same);
}
