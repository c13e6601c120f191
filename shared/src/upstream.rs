//! A service's instances as its callers see them: one base URL (behind a
//! load balancer), or several (`HAIL_TRIP_URL=http://a:3003,http://b:3003`)
//! taken in turn. A call whose connection is refused (the instance died or
//! is restarting) goes to the next instance at once: nothing was sent, so
//! nothing can happen twice, and a dead instance costs no request.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

#[derive(Clone, Debug)]
pub struct Instances {
    urls: Arc<[String]>,
    next: Arc<AtomicUsize>,
}

impl Instances {
    /// From a comma-separated list of base URLs (trailing `/` dropped).
    pub fn new(list: &str) -> Self {
        let urls: Vec<String> = list
            .split(',')
            .map(|url| url.trim().trim_end_matches('/').to_string())
            .filter(|url| !url.is_empty())
            .collect();
        Self {
            urls: urls.into(),
            next: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Every instance's base URL.
    pub fn all(&self) -> &[String] {
        &self.urls
    }

    /// The next instance in turn (for a call that is not retried).
    pub fn pick(&self) -> &str {
        let at = self.next.fetch_add(1, Ordering::Relaxed);
        self.urls
            .get(at % self.urls.len().max(1))
            .map_or("", String::as_str)
    }

    /// Sends the request `build` makes for an instance's base URL, to the
    /// instances in turn until one takes the connection.
    pub async fn send(
        &self,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let count = self.urls.len().max(1);
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut attempt = 0;
        loop {
            let base = self
                .urls
                .get((start + attempt) % count)
                .map_or("", String::as_str);
            match build(base).send().await {
                Err(err) if err.is_connect() && attempt + 1 < count => attempt += 1,
                answer => return answer,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_split_trimmed_and_taken_in_turn() {
        let instances = Instances::new("http://a:1/, http://b:2 ,");
        assert_eq!(instances.all(), ["http://a:1", "http://b:2"]);
        let picks: Vec<String> = (0..4).map(|_| instances.pick().to_string()).collect();
        assert_eq!(
            picks,
            ["http://a:1", "http://b:2", "http://a:1", "http://b:2"]
        );
    }

    #[tokio::test]
    async fn a_refused_connection_goes_to_the_next_instance() {
        // A port nobody listens on, then a live one.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead_url = format!("http://{}", dead.local_addr().unwrap());
        drop(dead);
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_url = format!("http://{}", live.local_addr().unwrap());
        let app = axum::Router::new().route("/who", axum::routing::get(|| async { "live" }));
        tokio::spawn(async move { axum::serve(live, app).await });
        let instances = Instances::new(&format!("{dead_url},{live_url}"));
        let http = reqwest::Client::new();
        for _ in 0..4 {
            let answer = instances
                .send(|base| http.get(format!("{base}/who")))
                .await
                .expect("the live instance answers");
            assert_eq!(answer.text().await.unwrap(), "live");
        }
        // With every instance gone, the refusal comes back.
        let gone = Instances::new(&dead_url);
        let err = gone.send(|base| http.get(format!("{base}/who"))).await;
        assert!(err.is_err_and(|e| e.is_connect()));
    }
}
