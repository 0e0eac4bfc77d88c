//! The owned-object watches' tests.
use serde_json::json;

use super::*;

fn deployment(ready: i32, generation: i64) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "api", "namespace": "ns", "generation": generation},
        "spec": {"replicas": 2, "selector": {}, "template": {}},
        "status": {"observedGeneration": generation, "replicas": 2, "updatedReplicas": 2, "readyReplicas": ready}
    }))
    .unwrap()
}

#[test]
fn rollout_progress_does_not_wake_but_readiness_and_edits_do() {
    let none = workload_state(&deployment(0, 1));
    let mut moving = deployment(1, 1);
    moving.status.as_mut().unwrap().available_replicas = Some(1);
    assert_eq!(
        workload_state(&moving),
        none,
        "1 of 2 ready: nothing to act on"
    );
    assert_ne!(workload_state(&deployment(2, 1)), none, "ready");
    assert_ne!(workload_state(&deployment(0, 2)), none, "spec edited");
    let mut labelled = deployment(0, 1);
    labelled.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    assert_ne!(workload_state(&labelled), none, "labels edited");
}

#[test]
fn a_stripped_deployment_keeps_what_the_rules_read() {
    let condition =
        |type_: &str| json!({"type": type_, "status": "True", "message": "a long message"});
    let mut d = deployment(2, 1);
    d.spec.template =
        serde_json::from_value(json!({"spec": {"containers": [{"name": "api"}]}})).unwrap();
    d.status.as_mut().unwrap().conditions = serde_json::from_value(json!([
        condition("Available"),
        condition("Progressing"),
        condition("ReplicaFailure")
    ]))
    .unwrap();
    let state = d.state();
    d.strip();
    assert_eq!(d.spec.template, Default::default());
    let kept: Vec<&str> = d
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .flatten()
        .filter_map(|c| c.type_.as_deref())
        .collect();
    assert_eq!(kept, ["ReplicaFailure"]);
    assert_eq!(d.state(), state, "ready and refused as before");
    assert_eq!(d.state(), (true, true));
}

#[tokio::test]
async fn a_relist_wakes_only_once_the_store_holds_the_list() {
    let named = |name: &str, generation: i64| {
        let mut d = deployment(0, generation);
        d.metadata.name = Some(name.into());
        d
    };
    let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
        Ok(watcher::Event::Init),
        Ok(watcher::Event::InitApply(named("a", 1))),
        Ok(watcher::Event::InitDone),
        Ok(watcher::Event::Apply(named("b", 1))),
        // A re-list: `a` was edited while the watch was down.
        Ok(watcher::Event::Init),
        Ok(watcher::Event::InitApply(named("a", 2))),
        Ok(watcher::Event::InitApply(named("b", 1))),
        Ok(watcher::Event::InitDone),
    ];
    let (store, writer) = super::super::cache::store::<Deployment>();
    let events = kept(futures::stream::iter(events), writer);
    let mut woken = Box::pin(wakes(events, |_: &Deployment, _| true));
    let mut names = Vec::new();
    while let Some(object) = woken.next().await {
        let name = object.unwrap().metadata.name.unwrap();
        let cached = store.get("ns", &name).expect("in the store");
        names.push(format!("{name}@{}", cached.metadata.generation.unwrap()));
    }
    assert_eq!(names, ["a@1", "b@1", "a@2", "b@1"]);
}

#[tokio::test]
async fn a_list_wakes_each_owner_once() {
    let owned = |name: &str, owner: &str| {
        let mut d = deployment(0, 1);
        d.metadata.name = Some(name.into());
        d.metadata.owner_references = Some(vec![serde_json::from_value(json!({
            "apiVersion": "devstack.dev/v1alpha1", "kind": "DevStack", "name": owner, "uid": owner, "controller": true
        }))
        .unwrap()]);
        d
    };
    let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
        Ok(watcher::Event::Init),
        Ok(watcher::Event::InitApply(owned("a", "one"))),
        Ok(watcher::Event::InitApply(owned("b", "one"))),
        Ok(watcher::Event::InitApply(owned("c", "two"))),
        Ok(watcher::Event::InitDone),
        Ok(watcher::Event::Apply(owned("a", "one"))),
        Ok(watcher::Event::Apply(owned("b", "one"))),
    ];
    let woken: Vec<String> = wakes(futures::stream::iter(events), |_: &Deployment, _| true)
        .map(|o| o.unwrap().metadata.name.unwrap())
        .collect()
        .await;
    assert_eq!(
        woken,
        ["a", "c", "a", "b"],
        "a list: one per owner; changes: each"
    );
}

#[tokio::test]
async fn a_store_is_filled_even_while_the_controller_polls_no_trigger() {
    let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
        Ok(watcher::Event::Init),
        Ok(watcher::Event::InitApply(deployment(1, 1))),
        Ok(watcher::Event::InitDone),
    ];
    let (store, writer) = super::super::cache::store::<Deployment>();
    let events = kept(futures::stream::iter(events), writer);
    let _unpolled = driven(wakes(events, |_: &Deployment, _| true));
    let ready = tokio::time::timeout(std::time::Duration::from_secs(5), store.wait_until_ready())
        .await
        .expect("the store was filled");
    assert!(ready);
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn a_deleted_object_is_forgotten() {
    let verified = Arc::new(Verified::default());
    let mut d = deployment(1, 1);
    d.metadata.uid = Some("u1".into());
    d.metadata.namespace = Some("ns".into());
    verified.saw("Deployment", &d.metadata, "h");
    let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
        Ok(watcher::Event::Apply(d.clone())),
        Ok(watcher::Event::Delete(d.clone())),
    ];
    let events = forgetting(futures::stream::iter(events), verified.clone(), None);
    let woken: Vec<_> = wakes(events, |_: &Deployment, _| true).collect().await;
    assert_eq!(woken.len(), 2);
    assert!(!verified.unchanged("Deployment", &d.metadata));
    assert_eq!(
        verified.len(),
        0,
        "no memory kept for objects that are gone"
    );
}

#[tokio::test]
async fn an_object_gone_from_a_relist_is_forgotten() {
    let verified = Arc::new(Verified::default());
    let named = |name: &str, namespace: &str| {
        let mut d = deployment(1, 1);
        d.metadata.name = Some(name.into());
        d.metadata.uid = Some(format!("uid-{name}"));
        d.metadata.namespace = Some(namespace.into());
        d
    };
    let (kept, gone, elsewhere) = (named("a", "ns"), named("b", "ns"), named("c", "other"));
    for d in [&kept, &gone, &elsewhere] {
        verified.saw("Deployment", &d.metadata, "h");
    }
    // The watch of `ns` re-lists after a gap in which `b` was deleted.
    let events: Vec<Result<watcher::Event<Deployment>, watcher::Error>> = vec![
        Ok(watcher::Event::Init),
        Ok(watcher::Event::InitApply(kept.clone())),
        Ok(watcher::Event::InitDone),
    ];
    let events = forgetting(futures::stream::iter(events), verified.clone(), Some("ns"));
    let _: Vec<_> = events.collect().await;
    assert!(verified.unchanged("Deployment", &kept.metadata));
    assert!(
        !verified.unchanged("Deployment", &gone.metadata),
        "gone: forgotten"
    );
    assert!(
        verified.unchanged("Deployment", &elsewhere.metadata),
        "another namespace's watch decides about its objects"
    );
}
