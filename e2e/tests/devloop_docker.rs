//! The inner loop on a real Docker engine, through `devstack up`: a tiny app built from a
//! Dockerfile in the test (FROM the locally built redis image: a Debian userland with `sh`)
//! runs with the image id of its content tag; an unchanged context is not rebuilt; an edit of a
//! synced file reaches the running app (latency printed, p50/p90 over 20 edits); a deleted file
//! disappears; a read-only mount is read-only inside; a changed lock file (in the build context,
//! outside the sync targets) gives a new tag, a rebuild and a container of the new image.
//!
//! Needs the engine (`e2e/docker.sh up`, with the redis image); fails, never skips.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use devstack_e2e::{bin, docker_host, local_image, unique_name};

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct App {
    dir: tempfile::TempDir,
    name: String,
    host: String,
}

impl App {
    fn new() -> App {
        let base = local_image("redis").expect("the local redis image (e2e/docker.sh up)");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("app/src")).unwrap();
        std::fs::create_dir_all(d.join("docs")).unwrap();
        std::fs::write(d.join("docs/readme.txt"), "host data\n").unwrap();
        std::fs::write(
            d.join("app/Dockerfile"),
            format!(
                "FROM {base}\nUSER root\nCOPY . /app\nRUN cat /app/requirements.lock > /lock.txt\n"
            ),
        )
        .unwrap();
        std::fs::write(d.join("app/.dockerignore"), "*.tmp\n").unwrap();
        std::fs::write(d.join("app/requirements.lock"), "dep==1\n").unwrap();
        std::fs::write(d.join("app/src/msg.txt"), "v0\n").unwrap();
        std::fs::write(d.join("app/src/gone.txt"), "soon deleted\n").unwrap();
        let name = unique_name("dl");
        // The app "serves" the synced file: it copies it to /tmp/out every 20 ms.
        let stack = format!(
            "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: {name}}}\nspec:\n  services:\n    app:\n      build: {{context: ./app}}\n      command: [sh, -c, 'while true; do cat /app/src/msg.txt > /tmp/out.new 2>/dev/null; mv /tmp/out.new /tmp/out; sleep 0.02; done']\n      mounts: [{{source: ./docs, target: /mnt/docs, readOnly: true}}]\n      sync: [{{source: ./app/src, target: /app/src}}]\n"
        );
        std::fs::write(d.join("stack.yaml"), stack).unwrap();
        App {
            dir,
            name,
            host: docker_host(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn devstack(&self, args: &[&str]) -> Output {
        run(Command::new(bin::devstack())
            .env("DOCKER_HOST", &self.host)
            .current_dir(self.path())
            .args(args))
    }

    fn docker(&self, args: &[&str]) -> Output {
        run(Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(args))
    }

    fn container(&self) -> String {
        format!("{}-app-1", self.name)
    }

    fn exec(&self, script: &str) -> Output {
        self.docker(&["exec", &self.container(), "sh", "-c", script])
    }

    fn up(&self) -> String {
        let out = self.devstack(&["up", "stack.yaml", "--no-wait", "--timeout", "120"]);
        assert!(out.status.success(), "devstack up: {}", text(&out));
        text(&out)
    }

    fn image_of_container(&self) -> (String, String) {
        let out = self.docker(&[
            "inspect",
            "-f",
            "{{.Config.Image}} {{.Image}}",
            &self.container(),
        ]);
        let t = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let (name, id) = t
            .split_once(' ')
            .unwrap_or_else(|| panic!("inspect: {}", text(&out)));
        (name.to_string(), id.to_string())
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.devstack(&["down", "stack.yaml"]);
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[test]
fn build_sync_and_mounts_on_docker() {
    let app = App::new();
    let first = app.up();
    assert!(first.contains("building"), "the first up builds: {first}");
    let (image, id) = app.image_of_container();
    assert!(image.starts_with(&format!("{}/app:", app.name)), "{image}");
    let inspect = app.docker(&["image", "inspect", "-f", "{{.Id}}", &image]);
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        id,
        "same image id"
    );

    // An unchanged context is not rebuilt (an ignored file does not change it).
    std::fs::write(app.path().join("app/scratch.tmp"), "x").unwrap();
    let again = app.up();
    assert!(!again.contains("building"), "no rebuild: {again}");
    assert_eq!(app.image_of_container().1, id);

    // Edits of a synced file reach the running app.
    let mut latencies = Vec::new();
    for i in 1..=20 {
        let want = format!("edit-{i}");
        let start = Instant::now();
        std::fs::write(app.path().join("app/src/msg.txt"), format!("{want}\n")).unwrap();
        loop {
            let out = app.exec("cat /tmp/out");
            if String::from_utf8_lossy(&out.stdout).trim() == want {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "edit {i} never arrived"
            );
        }
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let (p50, p90) = (percentile(&latencies, 50), percentile(&latencies, 90));
    println!("docker edit->visible over 20 edits (incl. docker exec round trip): p50 {p50:?} p90 {p90:?}");
    assert!(p90 < Duration::from_secs(1), "p90 {p90:?}");

    // A deleted file is gone inside.
    std::fs::remove_file(app.path().join("app/src/gone.txt")).unwrap();
    let out = app.exec("test ! -e /app/src/gone.txt");
    assert!(out.status.success(), "deleted file still visible");

    // The read-only mount is there and read-only.
    let out = app.exec("cat /mnt/docs/readme.txt && ! touch /mnt/docs/new 2>/dev/null");
    assert!(out.status.success(), "read-only mount: {}", text(&out));
    assert!(!app.path().join("docs/new").exists());

    // A changed lock file (outside the sync target) rebuilds, and the new image runs.
    std::fs::write(app.path().join("app/requirements.lock"), "dep==2\n").unwrap();
    let rebuilt = app.up();
    assert!(rebuilt.contains("building"), "rebuild: {rebuilt}");
    let (new_image, new_id) = app.image_of_container();
    assert_ne!(new_image, image);
    assert_ne!(new_id, id);
    let out = app.exec("cat /lock.txt");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dep==2");
}

/// `devstack dev`: a changed lock file rebuilds and recreates the service; an edit of a sync
/// with `restart: true` restarts its container; the terminal says so per service and shows the
/// service's own output (`app | …`) across both.
#[test]
fn devstack_dev_rebuilds_on_a_lock_file_change_and_restarts() {
    let app = App::new();
    let stack = std::fs::read_to_string(app.path().join("stack.yaml")).unwrap();
    let stack = stack
        .replace("target: /app/src}]", "target: /app/src, restart: true}]")
        .replace(
            "command: [sh, -c, 'while true;",
            "command: [sh, -c, 'echo started $(cat /app/src/msg.txt); while true;",
        );
    assert!(stack.contains("echo started"), "{stack}");
    std::fs::write(app.path().join("stack.yaml"), stack).unwrap();
    let log = app.path().join("dev.log");
    let mut dev = Command::new(bin::devstack())
        .env("DOCKER_HOST", &app.host)
        .current_dir(app.path())
        .args(["dev", "stack.yaml"])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let wait_log = |want: &str| {
        let start = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(want) {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "no {want:?} in: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_log("watching");
    let (image, _) = app.image_of_container();
    let started = |app: &App| {
        let out = app.docker(&["inspect", "-f", "{{.State.StartedAt}}", &app.container()]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let before = started(&app);
    std::fs::write(app.path().join("app/src/msg.txt"), "restart me\n").unwrap();
    wait_log("restarts 1");
    assert_ne!(started(&app), before, "the container restarted");
    // The service's own output, followed across the restart (the same container).
    wait_log("app | started restart me");

    std::fs::write(app.path().join("app/requirements.lock"), "dep==3\n").unwrap();
    let text = wait_log("rebuilds 1");
    let (new_image, _) = app.image_of_container();
    assert_ne!(new_image, image, "{text}");
    let out = app.exec("cat /lock.txt");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "dep==3");
    // ... and followed in the rebuilt service's new container.
    let start = Instant::now();
    while wait_log("rebuilds 1")
        .matches("app | started restart me")
        .count()
        < 2
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{}",
            wait_log("rebuilds 1")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    dev.kill().unwrap();
    dev.wait().unwrap();
}
