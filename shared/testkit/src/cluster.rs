//! A Redis Cluster of a test's own: three masters and three replicas from
//! the same `redis-server` binary (`--cluster-enabled yes`, then
//! `redis-cli --cluster create --cluster-replicas 1`), on free ports,
//! keeping nothing on disk but the nodes' cluster files. A test may SIGKILL
//! a master and watch its replica take over. Stopped when dropped.

use std::{
    collections::HashMap,
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use uuid::Uuid;

use crate::faults::wait_for_port;

pub struct PrivateCluster {
    pub ports: Vec<u16>,
    nodes: HashMap<u16, Child>,
    dir: PathBuf,
}

/// Six free ports whose cluster bus ports (+10000) are free too, all below
/// Linux's ephemeral range, where the other tests' `bind(0)` land.
fn free_ports() -> Vec<u16> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
    let mut ports = Vec::new();
    for _ in 0..10_000 {
        let port = rng.gen_range(20_000..22_700);
        if !ports.contains(&port) && free(port) && free(port + 10_000) {
            ports.push(port);
            if ports.len() == 6 {
                return ports;
            }
        }
    }
    panic!("no six free ports for a Redis Cluster between 20000 and 22700");
}

impl PrivateCluster {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("hail-cluster-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a directory for the cluster's files");
        let ports = free_ports();
        let mut nodes = HashMap::new();
        for port in &ports {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server (scripts/test.sh installs it)");
            nodes.insert(*port, child);
        }
        for port in &ports {
            assert!(
                wait_for_port(*port, Duration::from_secs(10)).await,
                "cluster node {port} did not start"
            );
        }
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("run redis-cli (it comes with redis-server)");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { ports, nodes, dir };
        assert!(
            cluster.wait_healthy(Duration::from_secs(30)).await,
            "the cluster did not become whole"
        );
        // A replica that has not synced with its master yet would refuse to
        // take over from it.
        assert!(
            cluster.wait_replicas_synced(Duration::from_secs(30)).await,
            "the replicas did not sync"
        );
        cluster
    }

    async fn wait_replicas_synced(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            let mut synced = 0;
            for port in self.live() {
                let info = Command::new("redis-cli")
                    .args(["-p", &port.to_string(), "info", "replication"])
                    .output();
                let info = info.map(|o| String::from_utf8_lossy(&o.stdout).to_string());
                if info.is_ok_and(|i| i.contains("master_link_status:up")) {
                    synced += 1;
                }
            }
            if synced == 3 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Every node, as `REDIS_URL` lists them for `HAIL_REDIS_CLUSTER=true`.
    pub fn url(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The live nodes' ports.
    fn live(&self) -> Vec<u16> {
        self.ports
            .iter()
            .copied()
            .filter(|p| self.nodes.contains_key(p))
            .collect()
    }

    /// `CLUSTER NODES` as a live node sees it.
    async fn cluster_nodes(&self) -> Option<String> {
        for port in self.live() {
            let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}")) else {
                continue;
            };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                continue;
            };
            if let Ok(nodes) = redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<String>(&mut conn)
                .await
            {
                return Some(nodes);
            }
        }
        None
    }

    /// The ports of the live masters that serve slots now (a killed master
    /// keeps its slots in the others' view until its replica takes over).
    pub async fn masters(&self) -> Vec<u16> {
        let live = self.live();
        let nodes = self.cluster_nodes().await.unwrap_or_default();
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .filter(|line| line.split_whitespace().count() > 8)
            .filter_map(|line| {
                let address = line.split_whitespace().nth(1)?;
                address.split(['@', ':']).nth(1)?.parse().ok()
            })
            .filter(|port| live.contains(port))
            .collect()
    }

    /// The port of the master that serves `key`'s slot now.
    pub async fn master_of(&self, key: &str) -> Option<u16> {
        let port = *self.live().first()?;
        let slot = Command::new("redis-cli")
            .args(["-p", &port.to_string(), "cluster", "keyslot", key])
            .output()
            .ok()?;
        let slot: u16 = String::from_utf8_lossy(&slot.stdout).trim().parse().ok()?;
        let nodes = self.cluster_nodes().await?;
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find(|line| {
                line.split_whitespace().skip(8).any(|range| {
                    let mut ends = range.split('-').filter_map(|n| n.parse::<u16>().ok());
                    match (ends.next(), ends.next()) {
                        (Some(lo), Some(hi)) => (lo..=hi).contains(&slot),
                        (Some(one), None) => one == slot,
                        _ => false,
                    }
                })
            })
            .and_then(|line| {
                let address = line.split_whitespace().nth(1)?;
                address.split(['@', ':']).nth(1)?.parse().ok()
            })
    }

    /// Whether every live node says the cluster is whole (every slot
    /// served).
    pub async fn healthy(&self) -> bool {
        for port in self.live() {
            let info = Command::new("redis-cli")
                .args(["-p", &port.to_string(), "cluster", "info"])
                .output();
            let Ok(info) = info else { return false };
            if !String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                return false;
            }
        }
        true
    }

    pub async fn wait_healthy(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.healthy().await && self.masters().await.len() == 3 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// SIGKILL one node, as a crash would.
    pub fn kill(&mut self, port: u16) {
        if let Some(mut child) = self.nodes.remove(&port) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for port in self.live() {
            self.kill(port);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
