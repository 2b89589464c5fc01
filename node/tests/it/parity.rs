//! One behaviour on both backends, compared answer for answer: the same registrations on a
//! SQLite node and on a PostgreSQL node, the same searches, sorts and filters, the same
//! answers. Name and keyword searches ignore the case of ASCII letters on both (and only of
//! ASCII letters: full-width letters and Chinese match as written); sorting compares bytes on
//! both.

use serde_json::{json, Value};

use crate::products::owner;
use crate::registry::{code, entity, world, World};
use crate::support::{run_test, Backend, TestApp};

/// Entity names that differ by case, width, wildcard characters and script.
const NAMES: &[&str] = &[
    "VitaC维C片商行",
    "vitac维生素店",
    "ＶｉｔａＣ全角商店",
    "Zeta食品",
    "zeta食品",
    "a_b%c 商店",
    "abxc 商店",
    "上城 Alpha",
    "西湖鲜果",
];

/// A GTIN-13 with its check digit.
fn gtin13(base: u64) -> String {
    let digits = format!("{base:012}");
    let sum: u32 = digits.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

async fn load(app: &TestApp) -> World {
    let w = world(app).await;
    let dept = w.dept["id"].clone();
    let site = json!({"code": "xh-market", "name": "Xihu Market 西湖市场", "kind": "farmers_market", "region": "330106", "tenant_id": dept});
    assert_eq!(w.reviewer.post(app, "/api/v1/registry/sites", site).await.status(), 201);
    for (i, name) in NAMES.iter().enumerate() {
        let mut e = entity(&code("330106", 500 + i as u32), name, "330106");
        e["tenant_id"] = dept.clone();
        if i % 3 == 0 {
            e["site_code"] = json!("xh-market");
            e["merchant_code"] = json!(format!("M-{i:02}"));
            e["merchant_type"] = json!("水果");
            e["varieties"] = json!(if i == 0 { "Apple、梨" } else { "apple" });
        }
        assert_eq!(w.reviewer.post(app, "/api/v1/registry/entities", e).await.status(), 201, "{name}");
    }
    let owner_code = owner(app, &w, 600).await;
    for (i, (name, brand)) in
        [("VitaC Tablets", "Health"), ("维C泡腾片", "VITAC"), ("ｖｉｔａｃ", "全角"), ("Zinc 锌片", "zinc")]
            .iter()
            .enumerate()
    {
        let body = json!({"scheme": "gs1", "code": gtin13(690_123_456_700 + i as u64), "name": name, "category": "0150",
                          "specification": "30片/瓶", "brand": brand, "shelf_life_days": 720, "entity_code": owner_code});
        assert_eq!(w.key_a.post(app, "/api/v1/registry/products", body).await.status(), 201, "{name}");
    }
    w
}

/// The searches, sorts and filters compared; each with the names it must find on both.
fn cases() -> Vec<(&'static str, Option<&'static [&'static str]>)> {
    vec![
        ("entities?q=vitac%E7%BB%B4", Some(&["VitaC维C片商行", "vitac维生素店"])),
        ("entities?q=VITAC%E7%BB%B4", Some(&["VitaC维C片商行", "vitac维生素店"])),
        ("entities?q=%EF%BC%B6%EF%BD%89", Some(&["ＶｉｔａＣ全角商店"])),
        ("entities?q=%EF%BC%B6%EF%BC%A9", Some(&[])),
        ("entities?q=a_b", Some(&["a_b%c 商店"])),
        ("entities?q=b%25c", Some(&["a_b%c 商店"])),
        ("entities?q=zeta%E9%A3%9F", Some(&["Zeta食品", "zeta食品"])),
        ("entities?q=%E4%B8%8A%E5%9F%8E%20alpha", Some(&["上城 Alpha"])),
        ("entities?site=xihu", Some(&["VitaC维C片商行", "Zeta食品", "abxc 商店"])),
        ("entities?site=XIHU%20MARKET", Some(&["VitaC维C片商行", "Zeta食品", "abxc 商店"])),
        ("entities?variety=APPLE", Some(&["VitaC维C片商行", "Zeta食品", "abxc 商店"])),
        ("entities?variety=%E6%A2%A8", Some(&["VitaC维C片商行"])),
        ("entities?sort=name&order=asc&page_size=100", None),
        ("entities?sort=name&order=desc&page_size=100", None),
        ("entities?sort=code&order=asc&page_size=4&page=2", None),
        ("entities?sort=region&order=desc&page_size=100", None),
        ("entities?merchant=true&sort=name&order=asc", None),
        ("products?q=vitac", Some(&["VitaC Tablets", "维C泡腾片"])),
        ("products?q=VitaC", Some(&["VitaC Tablets", "维C泡腾片"])),
        ("products?q=%EF%BD%96%EF%BD%89", Some(&["ｖｉｔａｃ"])),
        ("products?q=ZINC", Some(&["Zinc 锌片"])),
        ("products?q=0690123456", Some(&["VitaC Tablets", "维C泡腾片", "ｖｉｔａｃ", "Zinc 锌片"])),
    ]
}

/// What a list answered, without what differs between two nodes by nature (ids, times).
fn answer(page: &Value) -> Value {
    let items = page["rows"].as_array().cloned().expect("rows");
    json!({
        "total": page["total"],
        "items": items.iter().map(|i| json!([i["code"], i["name"]])).collect::<Vec<_>>(),
    })
}

fn names(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|pair| pair[1].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

async fn answers(app: &TestApp) -> Vec<Value> {
    let w = load(app).await;
    let mut out = Vec::new();
    for (query, _) in cases() {
        let res = w.reviewer.get(app, &format!("/api/v1/registry/{query}")).await;
        assert_eq!(res.status(), 200, "{query}");
        out.push(answer(&res.json().await.expect("json")));
    }
    out
}

#[test]
fn searches_sorts_and_filters_answer_alike_on_both_backends() {
    run_test(async {
        let sqlite = TestApp::spawn(Backend::Sqlite).await;
        let postgres = TestApp::spawn(Backend::Postgres).await;
        let on_sqlite = answers(&sqlite).await;
        let on_postgres = answers(&postgres).await;
        for ((query, expected), (a, b)) in cases().into_iter().zip(on_sqlite.iter().zip(&on_postgres)) {
            assert!(a["total"].as_i64().is_some(), "{query}: {a}");
            assert_eq!(a, b, "{query}: SQLite and PostgreSQL answer differently");
            if let Some(expected) = expected {
                let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
                expected.sort();
                assert_eq!(names(a), expected, "{query}");
            }
        }
        // Sorting by name compares bytes (UTF-8 order is code point order): upper-case ASCII
        // before lower-case, both before Chinese, Chinese before full-width letters.
        let by_name = names_in_order(&on_sqlite[12]);
        let position = |n: &str| by_name.iter().position(|x| x == n).expect(n);
        assert!(position("VitaC维C片商行") < position("Zeta食品"));
        assert!(position("Zeta食品") < position("a_b%c 商店"));
        assert!(position("zeta食品") < position("上城 Alpha"));
        assert!(position("西湖鲜果") < position("ＶｉｔａＣ全角商店"));
    });
}

fn names_in_order(answer: &Value) -> Vec<String> {
    answer["items"].as_array().expect("items").iter().map(|pair| pair[1].as_str().expect("name").to_owned()).collect()
}
