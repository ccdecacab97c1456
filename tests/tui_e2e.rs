//! The real binary in a real terminal (tmux): load the case-study feed, browse the quarantined
//! rows, open one, approve with a note — then check production and the audit row.
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestDb, fixture};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux (install it: apt-get install tmux)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        self.run(&args);
        // Let a lone Esc stand alone (not read as Alt+key).
        std::thread::sleep(Duration::from_millis(250));
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited 30 s for {text:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[tokio::test]
async fn load_browse_and_approve_in_a_terminal() {
    let db = TestDb::with_catalog().await;
    let tmux = Tmux {
        socket: format!("airlock-e2e-{}", std::process::id()),
    };
    let command = format!(
        "{} review {} {}; sleep 30",
        env!("CARGO_BIN_EXE_airlock"),
        fixture("partner-products.toml").display(),
        fixture("products-broken.csv").display()
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "100",
        "-y",
        "30",
        "-e",
        &format!("DATABASE_URL={}", db.url()),
        "-e",
        "NO_COLOR=1",
        &command,
    ]);

    let summary = tmux.wait_for("REVIEW");
    assert!(summary.contains("13 quarantined (4.3%)"), "{summary}");
    tmux.wait_for("⚠ name");

    tmux.keys(&["2"]);
    let rows = tmux.wait_for("Hedge trimmer");
    assert!(rows.contains("23     type price"), "{rows}");
    tmux.keys(&["j"]);
    tmux.keys(&["Enter"]);
    let detail = tmux.wait_for("SKU-0000062,Hedge trimmer,Garden,34.50");
    assert!(
        detail.contains("lookup category_id: '34.50' is not in public.categories.name"),
        "{detail}"
    );
    tmux.keys(&["Escape"]);

    tmux.keys(&["a"]);
    let dialog = tmux.wait_for("Approve and promote");
    assert!(
        dialog.contains("242 insert · 10 update · 35 unchanged"),
        "{dialog}"
    );
    tmux.keys(&["-l", "approved in the e2e test"]);
    tmux.keys(&["Enter"]);
    let result = tmux.wait_for("PROMOTED");
    assert!(
        result.contains("242 inserted · 10 updated · 35 unchanged"),
        "{result}"
    );
    assert!(
        result.contains("note: approved in the e2e test"),
        "{result}"
    );
    tmux.keys(&["q"]);

    let client = db.client().await;
    let products: i64 = client
        .query_one("SELECT count(*) FROM products", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(products, 342);
    let note: String = client
        .query_one(
            "SELECT note FROM airlock.decisions WHERE decision = 'approve'",
            &[],
        )
        .await
        .expect("audit row")
        .get(0);
    assert_eq!(note, "approved in the e2e test");
}
