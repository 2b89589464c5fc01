//! What the national-scale benchmarks share: the tree of the GB/T 2260 table (province → city
//! → counties), the CPU time of the process, and a national node's client certificate to sign
//! with.

use tracenode::bootstrap::{self, InitOptions};
use tracenode::config::{Config, Tier};
use tracenode::pki::own::{Own, OwnCertificate};
use tracenode::pki::NodePki;
use tracenode::region::{RegionCode, RegionLevel};

/// The provinces' codes (GB/T 2260).
pub const PROVINCES: [&str; 31] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44",
    "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
];

/// A province's code and its cities, each with its counties.
pub type Province = (String, Vec<(String, Vec<String>)>);

/// The tree of the GB/T 2260 table: province → city → counties (a province's counties that
/// stand under no city are grouped under the province's own code).
pub fn tree() -> Vec<Province> {
    PROVINCES
        .iter()
        .map(|p| {
            let province = RegionCode::parse(&format!("{p}0000")).expect("province");
            let mut cities: Vec<(String, Vec<String>)> = Vec::new();
            let mut direct = Vec::new();
            for child in province.children() {
                match child.level() {
                    RegionLevel::City => {
                        let counties = child.children().iter().map(|c| c.as_str().to_owned()).collect();
                        cities.push((child.as_str().to_owned(), counties));
                    }
                    _ => direct.push(child.as_str().to_owned()),
                }
            }
            if !direct.is_empty() {
                cities.push((province.as_str().to_owned(), direct));
            }
            (province.as_str().to_owned(), cities)
        })
        .collect()
}

/// CPU seconds this process used (user + system).
pub fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// A national node's client certificate and key (the folder it lives in goes with it).
pub fn signer() -> (OwnCertificate, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = bootstrap::init(&InitOptions {
        tier: Tier::National,
        region: RegionCode::national(),
        name: "基准 全国".into(),
        dir: dir.path().join("node"),
        database_url: None,
        listen: Some("127.0.0.1:0".into()),
        admin_names: Default::default(),
        federation: Default::default(),
    })
    .expect("init");
    let config = Config::load(&made.config_path).expect("config");
    let pki = NodePki::of(&config);
    pki.init_root().expect("root");
    (pki.own(Own::Client, &[]).expect("own"), dir)
}
