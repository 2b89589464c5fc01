//! Industry statistics at one node: the 三新 classification, a form defined as data, units
//! filling it through the API and the form's workbook, review, the summary checked against
//! sums computed here, reminders through a real SMTP server, and what one insider can and
//! cannot do.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::ingest::json_of;
use crate::registry::{world, Machine};
use crate::smtp::SmtpServer;
use crate::support::{expect_problem, Backend, Session, TestApp};
use crate::{both_backends, on_both_backends};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// A month that has ended (the tests run after it), and one that has not.
pub(crate) const PERIOD: &str = "2026-11";
const FUTURE: &str = "2099-01";

pub(crate) fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The guide's form (docs/examples/industry-form.json) under `code`: two amounts summed, a
/// share averaged, a count by its maximum.
pub(crate) fn form(code: &str) -> Value {
    let mut f: Value = serde_json::from_str(&example("industry-form.json")).expect("form json");
    f["code"] = json!(code);
    f
}

/// The guide's report of unit A (docs/examples/industry-report.json).
fn report_example() -> Value {
    serde_json::from_str(&example("industry-report.json")).expect("report json")
}

/// Imports the middle and small classes the form names (docs/examples/sanxin-classes.csv).
pub(crate) async fn import_classes(app: &TestApp, staff: &Session) {
    let csv = example("sanxin-classes.csv");
    let res = raw(app, staff, "/api/v1/industry/classes/import", "text/csv", csv.into_bytes()).await;
    let done = json_of(res, 200).await;
    assert_eq!(done["added"], 2, "{done}");
}

async fn raw(app: &TestApp, s: &Session, path: &str, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    s.client
        .post(app.url(path))
        .header("X-CSRF-Token", &s.csrf)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("post")
}

/// The form's workbook as a unit fills it, from the layout the node documents.
fn workbook(code: &str, period: &str, rows: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("填报").expect("name");
    for (r, (label, text)) in
        [("报表代码", code), ("报告期", period), ("报送单位", "某单位"), ("报表名称", "月报")].iter().enumerate()
    {
        sheet.write_string(r as u32, 0, *label).expect("label");
        sheet.write_string(r as u32, 1, *text).expect("text");
    }
    for (c, h) in ["指标代码", "指标名称", "计量单位", "三新分类", "必填", "数值"].iter().enumerate()
    {
        sheet.write_string(5, c as u16, *h).expect("header");
    }
    for (i, (indicator, unit, value)) in rows.iter().enumerate() {
        let row = 6 + i as u32;
        sheet.write_string(row, 0, *indicator).expect("code");
        sheet.write_string(row, 2, *unit).expect("unit");
        match value.parse::<f64>() {
            Ok(n) if !value.is_empty() => sheet.write_number(row, 5, n).expect("number"),
            _ if value.is_empty() => sheet,
            _ => sheet.write_string(row, 5, *value).expect("text"),
        };
    }
    book.save_to_buffer().expect("xlsx")
}

fn milli(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fraction = format!("{fraction:0<3}");
    whole.parse::<i64>().expect("whole") * 1000 + fraction[..3].parse::<i64>().expect("fraction")
}

fn values_of(summary: &Value) -> BTreeMap<String, Option<String>> {
    summary["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| (v["code"].as_str().expect("code").to_owned(), v["value"].as_str().map(str::to_owned)))
        .collect()
}

fn report_path(code: &str, period: &str) -> String {
    format!("/api/v1/industry/forms/{code}/periods/{period}/report")
}

async fn put_report(app: &TestApp, unit: &Machine, code: &str, period: &str, body: Value) -> reqwest::Response {
    unit.put(app, &report_path(code, period), body).await
}

async fn forms_reports_review_and_the_summary(app: TestApp) {
    let w = world(&app).await;
    let staff = &w.reviewer;
    let (a_id, b_id) = (w.a["id"].as_str().expect("id"), w.b["id"].as_str().expect("id"));

    // The classification: nine sections seeded; an import checked row by row, whole or not.
    let sections = json_of(staff.get(&app, "/api/v1/industry/classes").await, 200).await;
    assert_eq!(sections.as_array().map(Vec::len), Some(9), "{sections}");
    let bad = "code,name\n0101,现代种业\n0199,孤儿类\n019901,x\n02011,五位码\n";
    let p = expect_problem(
        raw(&app, staff, "/api/v1/industry/classes/import", "text/csv", bad.into()).await,
        422,
        "validation_failed",
    )
    .await;
    assert!(p["detail"].as_str().unwrap_or("").contains("line 5"), "{p}");
    let orphan = "code,name\n030101,无上级\n";
    let p = expect_problem(
        raw(&app, staff, "/api/v1/industry/classes/import", "text/csv", orphan.into()).await,
        422,
        "validation_failed",
    )
    .await;
    assert!(p["detail"].as_str().unwrap_or("").contains("0301"), "{p}");
    let middle = json_of(staff.get(&app, "/api/v1/industry/classes?parent=01").await, 200).await;
    assert_eq!(middle.as_array().map(Vec::len), Some(0), "a refused import stored nothing: {middle}");
    expect_problem(
        raw(&app, &w.sys, "/api/v1/industry/classes/import", "text/csv", bad.into()).await,
        403,
        "forbidden",
    )
    .await;
    import_classes(&app, staff).await;

    // A form: bad definitions name their field and store nothing.
    for (patch, field) in [
        (json!({"code": "x"}), "code"),
        (json!({"deadline_days": 200}), "deadline_days"),
        (json!({"rules": ["A02 <= A09"]}), "rules[0]"),
    ] {
        let mut f = form("SX-101");
        for (k, v) in patch.as_object().expect("patch") {
            f[k] = v.clone();
        }
        let p = expect_problem(staff.post(&app, "/api/v1/industry/forms", f).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{p}");
    }
    let mut f = form("SX-101");
    f["indicators"][1]["class_code"] = json!("0199");
    let p = expect_problem(staff.post(&app, "/api/v1/industry/forms", f).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "indicators[1].class_code", "{p}");
    let mut f = form("SX-101");
    f["indicators"][2]["aggregation"] = json!("sum");
    let p = expect_problem(staff.post(&app, "/api/v1/industry/forms", f).await, 422, "validation_failed").await;
    assert_eq!(p["field"], "indicators[2].aggregation", "a share is not summed: {p}");
    assert_eq!(json_of(staff.get(&app, "/api/v1/industry/forms").await, 200).await, json!([]));
    expect_problem(w.key_a.post(&app, "/api/v1/industry/forms", form("SX-101")).await, 403, "forbidden").await;
    let created = json_of(staff.post(&app, "/api/v1/industry/forms", form("SX-101")).await, 201).await;
    assert_eq!((created["status"].as_str(), created["origin"].as_str()), (Some("draft"), Some("330100")), "{created}");
    expect_problem(staff.post(&app, "/api/v1/industry/forms", form("SX-101")).await, 409, "conflict").await;
    let units = json!({"tenant_ids": [a_id, b_id]});
    // Staff whose data scope is 上城区 may not make 西湖区's platform a unit, nor read 西湖区.
    let scoped = app.staff(&w.sys, &w.sec, "shangcheng", Some(json!({"region": "330102"}))).await;
    expect_problem(scoped.put(&app, "/api/v1/industry/forms/SX-101/units", units.clone()).await, 403, "out_of_scope")
        .await;
    let west = "/api/v1/industry/forms/SX-101/periods/2026-11/summary?region=330106";
    expect_problem(scoped.get(&app, west).await, 403, "out_of_scope").await;
    json_of(staff.put(&app, "/api/v1/industry/forms/SX-101/units", units).await, 200).await;
    // A draft takes no report.
    let values = json!({"values": {"A01": 1}});
    expect_problem(put_report(&app, &w.key_a, "SX-101", PERIOD, values).await, 409, "conflict").await;
    json_of(staff.post(&app, "/api/v1/industry/forms/SX-101/publish", json!({})).await, 200).await;
    let mut changed = form("SX-101");
    changed["name"] = json!("改名");
    expect_problem(staff.put(&app, "/api/v1/industry/forms/SX-101", changed).await, 409, "conflict").await;

    // Unit A fills through the API. Each fault names its field and changes nothing.
    let good = report_example()["values"].clone();
    for (period, field) in [(FUTURE, "period"), ("2026-Q3", "period")] {
        let p = expect_problem(
            put_report(&app, &w.key_a, "SX-101", period, json!({"values": good})).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(p["field"], field, "{p}");
    }
    for (patch, field) in [
        (json!({"B01": {"value": 80, "unit": "‰"}}), "values.B01"),
        (json!({"C01": 1.5}), "values.C01"),
        (json!({"A01": "-3"}), "values.A01"),
        (json!({"Z99": 1}), "values.Z99"),
        (json!({"A02": 200}), "rules[0]"),
    ] {
        let mut v = good.clone();
        for (k, x) in patch.as_object().expect("patch") {
            v[k] = x.clone();
        }
        let res = put_report(&app, &w.key_a, "SX-101", PERIOD, json!({"values": v, "submit": true})).await;
        let p = expect_problem(res, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{p}");
    }
    expect_problem(w.key_a.get(&app, &report_path("SX-101", PERIOD)).await, 404, "not_found").await;
    let draft = json_of(put_report(&app, &w.key_a, "SX-101", PERIOD, json!({"values": {"A01": 1}})).await, 200).await;
    assert_eq!(draft["status"], "draft", "a draft may be partial: {draft}");
    let p = expect_problem(
        put_report(&app, &w.key_a, "SX-101", PERIOD, json!({"values": {"A01": 1}, "submit": true})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "values.A02", "a submitted report is whole: {p}");
    let a = json_of(put_report(&app, &w.key_a, "SX-101", PERIOD, report_example()).await, 200).await;
    assert_eq!((a["status"].as_str(), a["version"].as_i64()), (Some("submitted"), Some(2)), "{a}");
    assert_eq!(a["values"]["A01"], "100.5");
    expect_problem(put_report(&app, &w.key_a, "SX-101", PERIOD, json!({"values": good})).await, 409, "conflict").await;
    // Staff do not fill; a unit does not review.
    expect_problem(staff.put(&app, &report_path("SX-101", PERIOD), json!({"values": good})).await, 403, "forbidden")
        .await;
    let a_report = a["id"].as_str().expect("id").to_owned();
    let approve = json!({"approve": true});
    expect_problem(
        w.key_a.post(&app, &format!("/api/v1/industry/reports/{a_report}/review"), approve.clone()).await,
        403,
        "forbidden",
    )
    .await;

    // Unit B uploads the form's workbook; faults name their cell.
    let path = format!("{}.xlsx?submit=true", report_path("SX-101", PERIOD));
    let rows = |a01: &'static str, unit: &'static str| {
        vec![("A01", "万元", a01), ("A02", "万元", "10"), ("B01", unit, "90"), ("C01", "家", "30")]
    };
    for (body, field) in [
        (workbook("SX-101", PERIOD, &rows("50.25", "元")), "cell C9"),
        (workbook("SX-101", PERIOD, &rows("五十", "%")), "cell F7"),
        (workbook("SX-101", PERIOD, &rows("1.00005", "%")), "cell F7"),
        (workbook("SX-101", "2026-10", &rows("50.25", "%")), "file"),
        (workbook("SX-999", PERIOD, &rows("50.25", "%")), "file"),
        (b"PK not a workbook".to_vec(), "file"),
        (b"code,name\n".to_vec(), "file"),
    ] {
        let p = expect_problem(w.key_b.send(&app, &path, XLSX, body).await, 422, "validation_failed").await;
        assert_eq!(p["field"], field, "{p}");
    }
    let template = w.key_b.get(&app, "/api/v1/industry/forms/SX-101/periods/2026-11/workbook.xlsx").await;
    assert_eq!(template.status(), 200);
    let bytes = template.bytes().await.expect("bytes");
    assert!(bytes.starts_with(b"PK"), "a workbook");
    let b = json_of(w.key_b.send(&app, &path, XLSX, workbook("SX-101", PERIOD, &rows("50.25", "%"))).await, 200).await;
    assert_eq!((b["status"].as_str(), b["values"]["A01"].as_str()), (Some("submitted"), Some("50.25")), "{b}");
    let b_report = b["id"].as_str().expect("id").to_owned();

    // Review: send B back (a reason is required), approve A; B corrects and is approved.
    let waiting = json_of(staff.get(&app, "/api/v1/industry/reports?status=submitted").await, 200).await;
    assert_eq!(waiting.as_array().map(Vec::len), Some(2), "{waiting}");
    let review = |id: &str| format!("/api/v1/industry/reports/{id}/review");
    let p =
        expect_problem(staff.post(&app, &review(&b_report), json!({"approve": false})).await, 422, "validation_failed")
            .await;
    assert_eq!(p["field"], "reason");
    let back =
        json_of(staff.post(&app, &review(&b_report), json!({"approve": false, "reason": "B01 请核实"})).await, 200)
            .await;
    assert_eq!((back["status"].as_str(), back["reason"].as_str()), (Some("returned"), Some("B01 请核实")));
    json_of(staff.post(&app, &review(&a_report), approve.clone()).await, 200).await;
    expect_problem(staff.post(&app, &review(&a_report), approve.clone()).await, 409, "conflict").await;
    let one = json_of(staff.get(&app, "/api/v1/industry/forms/SX-101/periods/2026-11/summary").await, 200).await;
    assert_eq!(one["total"]["units_reported"], 1, "{one}");
    let fixed = json!({"values": {"A01": "50.25", "A02": 10, "B01": 85.5, "C01": 30}, "submit": true});
    json_of(put_report(&app, &w.key_b, "SX-101", PERIOD, fixed).await, 200).await;
    json_of(staff.post(&app, &review(&b_report), approve.clone()).await, 200).await;

    // The summary equals what was filled: sums, the average of reporters, the maximum.
    let s = json_of(staff.get(&app, "/api/v1/industry/forms/SX-101/periods/2026-11/summary").await, 200).await;
    let v = values_of(&s);
    assert_eq!(milli(v["A01"].as_deref().expect("A01")), milli("100.5") + milli("50.25"), "{s}");
    assert_eq!(milli(v["A02"].as_deref().expect("A02")), milli("40") + milli("10"), "{s}");
    assert_eq!(milli(v["B01"].as_deref().expect("B01")), (milli("80") + milli("85.5")) / 2, "{s}");
    assert_eq!(milli(v["C01"].as_deref().expect("C01")), milli("30"), "{s}");
    assert_eq!(
        (s["total"]["units_reported"].as_i64(), s["total"]["units_expected"].as_i64()),
        (Some(2), Some(2)),
        "{s}"
    );
    assert!(s["units"].as_array().expect("units").iter().all(|u| u["status"] == "approved"), "{s}");
    assert_eq!(s["tampered"], json!([]));
    // Its workbook carries the same figure.
    let export = staff.get(&app, "/api/v1/industry/forms/SX-101/periods/2026-11/summary.xlsx").await;
    assert_eq!(export.status(), 200);
    let bytes = export.bytes().await.expect("bytes").to_vec();
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("xlsx");
    use calamine::Reader;
    let range = book.worksheet_range("汇总").expect("sheet");
    assert_eq!(range.get_value((5, 4)), Some(&calamine::Data::Float(150.75)), "A01's total in E6");

    // Reopening A takes it out of the summary.
    let p = expect_problem(
        staff.post(&app, &format!("/api/v1/industry/reports/{a_report}/reopen"), json!({"reason": ""})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "reason");
    json_of(
        staff
            .post(&app, &format!("/api/v1/industry/reports/{a_report}/reopen"), json!({"reason": "A01 口径有误"}))
            .await,
        200,
    )
    .await;
    let s = json_of(staff.get(&app, "/api/v1/industry/forms/SX-101/periods/2026-11/summary").await, 200).await;
    assert_eq!(values_of(&s)["A01"].as_deref(), Some("50.25"), "{s}");
    assert_eq!(s["total"]["units_reported"], 1);

    // Someone with database access rewrites B's figures and their digest: the audit trail
    // still tells.
    let figures = r#"{"A01":999000,"A02":10000,"B01":85500,"C01":30000}"#;
    let digest = tracenode::system::industry::reports::digest("SX-101", PERIOD, b_id, figures);
    app.sql(&format!("UPDATE industry_reports SET figures = '{figures}', digest = '{digest}' WHERE id = '{b_report}'"))
        .expect("rewrite");
    let s = json_of(staff.get(&app, "/api/v1/industry/forms/SX-101/periods/2026-11/summary").await, 200).await;
    assert_eq!(s["tampered"], json!([b_report]), "{s}");

    // Closing the period ends reporting.
    assert_eq!(staff.post(&app, "/api/v1/industry/forms/SX-101/periods/2026-11/close", json!({})).await.status(), 204);
    let p = expect_problem(
        put_report(&app, &w.key_a, "SX-101", PERIOD, json!({"values": good})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["field"], "period", "{p}");
    assert_eq!(app.audit_count("industry_report.approve", "success"), 2);
    assert_eq!(app.audit_count("industry_report.reopen", "success"), 1);
    assert!(app.audit_count("industry.review", "denied") >= 1, "the unit's attempt to review is audited");
}
both_backends!(forms_reports_review_and_the_summary);

async fn units_are_reminded_by_mail(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let extra = format!("{}\n[alerts]\ndispatch_every_seconds = 1\n", smtp.config());
    let app = TestApp::spawn_with(backend, &extra).await;
    let w = world(&app).await;
    let staff = &w.reviewer;
    let a_id = w.a["id"].as_str().expect("id");
    import_classes(&app, staff).await;
    json_of(staff.post(&app, "/api/v1/industry/forms", form("SX-102")).await, 201).await;
    json_of(staff.post(&app, "/api/v1/industry/forms/SX-102/publish", json!({})).await, 200).await;
    let units = json!({"tenant_ids": [a_id, w.b["id"]]});
    json_of(staff.put(&app, "/api/v1/industry/forms/SX-102/units", units).await, 200).await;
    // Unit A's own mailbox; a node-wide duty mailbox hears nothing of it.
    let mine = json!({"name": "填报员", "kind": "email", "target": "filler@a.test", "tenant_id": a_id});
    json_of(staff.post(&app, "/api/v1/notify/channels", mine).await, 201).await;
    let duty = json!({"name": "值班", "kind": "email", "target": "duty@node.test"});
    json_of(staff.post(&app, "/api/v1/notify/channels", duty).await, 201).await;
    // B has submitted; A has not.
    let values = json!({"values": {"A01": 3, "A02": 1, "B01": 50}, "submit": true});
    json_of(put_report(&app, &w.key_b, "SX-102", PERIOD, values).await, 200).await;
    expect_problem(
        w.key_a.post(&app, "/api/v1/industry/forms/SX-102/periods/2026-11/remind", json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let r =
        json_of(staff.post(&app, "/api/v1/industry/forms/SX-102/periods/2026-11/remind", json!({})).await, 200).await;
    assert_eq!(r["reminded"], 1, "{r}");
    let got = smtp.wait_for(1).await;
    assert!(got[0].to.contains("filler@a.test"), "{got:?}");
    assert!(got[0].subject.contains("追溯服务业务情况月报") && got[0].subject.contains("2026-11"), "{got:?}");
    assert!(got[0].body.contains("尚未提交"), "{}", got[0].body);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(smtp.received().len(), 1, "nothing to the duty mailbox or to B");
}
on_both_backends!(units_are_reminded_by_mail);

/// A tenant's person with the tenant-client role, signed in.
pub(crate) async fn unit_user(app: &TestApp, sys: &Session, sec: &Session, tenant_id: &str, username: &str) -> Session {
    let created = json_of(
        sys.post(app, "/api/v1/users", json!({"username": username, "display_name": "填报员", "tenant_id": tenant_id}))
            .await,
        201,
    )
    .await;
    let id = created["user"]["id"].as_str().expect("id");
    let role = app.role_id(sec, "tenant_client").await;
    assert_eq!(sec.put(app, &format!("/api/v1/users/{id}/roles"), json!({"role_ids": [role]})).await.status(), 200);
    app.first_sign_in(username, created["one_time_password"].as_str().expect("otp"), "Unit-Filler-Pass1").await
}

pub(crate) async fn post_form(app: &TestApp, s: &Session, path: &str, fields: &[(&str, &str)]) -> String {
    let mut form: Vec<(&str, &str)> = vec![("csrf", s.csrf.as_str())];
    form.extend_from_slice(fields);
    let res = s.client.post(app.url(path)).form(&form).send().await.expect("form");
    assert!(res.status().is_success() || res.status().is_redirection(), "{path}: {}", res.status());
    res.text().await.expect("html")
}

pub(crate) async fn page(app: &TestApp, s: &Session, path: &str) -> String {
    let res = s.get(app, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("html")
}

async fn the_console_defines_fills_reviews_and_sums(app: TestApp) {
    let w = world(&app).await;
    let staff = &w.reviewer;
    let a_id = w.a["id"].as_str().expect("id");
    let filler = unit_user(&app, &w.sys, &w.sec, a_id, "filler-a").await;
    // The section is built, in Chinese.
    let section = page(&app, staff, "/system-building").await;
    assert!(section.contains("行业统计管理") && !section.contains("尚未建成"), "the section");
    // Staff import classes and define a form in the console; a bad line is named.
    let html = post_form(
        &app,
        staff,
        "/system-building/industry/classes",
        &[("csv", "code,name\n0101,现代种业\n010101,农作物种子培育\n")],
    )
    .await;
    assert!(html.contains("新增 2"), "imported");
    let bad = post_form(
        &app,
        staff,
        "/system-building/industry/forms",
        &[
            ("code", "SX-201"),
            ("name", "控制台月报"),
            ("frequency", "month"),
            ("deadline_days", "5"),
            ("indicators", "A01,收入,万元,decimal,sum,0101\nA02,其中线上,万元,decimal,sideways,0101"),
            ("rules", "A02 <= A01"),
        ],
    )
    .await;
    assert!(bad.contains("指标第 2 行"), "the faulty line is named");
    let html = post_form(&app, staff, "/system-building/industry/forms", &[
        ("code", "SX-201"), ("name", "控制台月报"), ("frequency", "month"), ("deadline_days", "5"),
        ("indicators", "A01,收入,万元,decimal,sum,0101\nA02,其中线上,万元,decimal,sum,010101\nB01,覆盖率,%,percent,average,01,选填"),
        ("rules", "A02 <= A01"),
    ])
    .await;
    assert!(html.contains("控制台月报") && html.contains("已保存为草稿"), "the new form's page");
    let html = post_form(&app, staff, "/system-building/industry/forms/SX-201/publish", &[]).await;
    assert!(html.contains("报表状态：已发布。"), "published");
    let unit_field = format!("unit_{a_id}");
    let html =
        post_form(&app, staff, "/system-building/industry/forms/SX-201/units", &[(unit_field.as_str(), "on")]).await;
    assert!(html.contains("报送单位已保存（1 个）"), "units");

    // The unit's person sees the form and fills it; a broken rule is shown, nothing kept.
    let mine = page(&app, &filler, "/system-building/industry").await;
    assert!(mine.contains("本单位需填报的报表") && mine.contains("SX-201"), "the unit's list");
    let fill = "/system-building/industry/forms/SX-201/periods/2026-11/fill";
    let html = post_form(&app, &filler, fill, &[("v_A01", "10"), ("v_A02", "20"), ("submit", "yes")]).await;
    assert!(html.contains("审核关系不成立"), "the rule");
    expect_problem(w.key_a.get(&app, &report_path("SX-201", PERIOD)).await, 404, "not_found").await;
    let html =
        post_form(&app, &filler, fill, &[("v_A01", "10"), ("v_A02", "2.5"), ("v_B01", "60"), ("submit", "yes")]).await;
    assert!(html.contains("已提交，等待审核"), "submitted");
    // A person of the unit cannot open the review queue.
    assert_eq!(filler.get(&app, "/system-building/industry/reports").await.status(), 403);

    // Staff review it in the queue and read the period's page.
    let queue = page(&app, staff, "/system-building/industry/reports").await;
    assert!(queue.contains("platform-a 租户") && queue.contains("2.5"), "the queue shows the report");
    let report = json_of(w.key_a.get(&app, &report_path("SX-201", PERIOD)).await, 200).await;
    let id = report["id"].as_str().expect("id");
    let html = post_form(&app, staff, &format!("/system-building/industry/reports/{id}"), &[("approve", "yes")]).await;
    assert!(html.contains("已通过"), "approved");
    let summary = page(&app, staff, "/system-building/industry/forms/SX-201/periods/2026-11").await;
    assert!(summary.contains("报送单位 1/1"), "completion");
    assert!(
        summary.contains(
            r#"<tr data-code="A02"><td>A02</td><td>其中线上</td><td>万元</td><td>求和</td><td class="value">2.5</td>"#
        ),
        "the value"
    );
    let html = post_form(&app, staff, "/system-building/industry/forms/SX-201/periods/2026-11/close", &[]).await;
    assert!(html.contains("已关闭"), "closed");
    let html = post_form(&app, &filler, fill, &[("v_A01", "10"), ("v_A02", "1")]).await;
    assert!(html.contains("已关闭，不再接受填报"), "a closed period takes nothing");
    let kept = json_of(w.key_a.get(&app, &report_path("SX-201", PERIOD)).await, 200).await;
    assert_eq!((kept["status"].as_str(), kept["values"]["A02"].as_str()), (Some("approved"), Some("2.5")), "{kept}");
}
both_backends!(the_console_defines_fills_reviews_and_sums);

/// A county's desk: its staff, one reporting unit with its key and a person of it.
struct County {
    staff: Session,
    key: Machine,
    person: Session,
}

async fn county_desk(app: &TestApp, region: &str) -> County {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let unit = app.tenant(&sys, &format!("unit-{region}"), region).await;
    let id = unit["id"].as_str().expect("id").to_owned();
    let key = Machine { client: app.client(), key: app.api_key(&sys, &sec, &id).await };
    let person = unit_user(app, &sys, &sec, &id, &format!("filler-{region}")).await;
    let staff = app.staff(&sys, &sec, "reviewer", None).await;
    let units = json!({"tenant_ids": [id]});
    // The form comes down the mailbox; the county assigns its unit once it is there.
    for _ in 0..300 {
        if staff.put(app, "/api/v1/industry/forms/SX-901/units", units.clone()).await.status() == 200 {
            return County { staff, key, person };
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the national form never reached {region}");
}

async fn approve_all(app: &TestApp, staff: &Session) {
    let waiting = json_of(staff.get(app, "/api/v1/industry/reports?status=submitted").await, 200).await;
    for r in waiting.as_array().expect("reports") {
        let path = format!("/api/v1/industry/reports/{}/review", r["id"].as_str().expect("id"));
        json_of(staff.post(app, &path, json!({"approve": true})).await, 200).await;
    }
}

/// Waits until the summary of `region` held at `app` (as its staff read it) satisfies `done`.
async fn summary_at(app: &TestApp, staff: &Session, region: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/api/v1/industry/forms/SX-901/periods/{PERIOD}/summary?region={region}");
    let mut last = Value::Null;
    for _ in 0..300 {
        last = json_of(staff.get(app, &path).await, 200).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the summary of {region} never came: {last}");
}

fn figure(summary: &Value, code: &str) -> Option<i64> {
    values_of(summary).get(code).cloned().flatten().map(|v| milli(&v))
}

async fn a_national_form_is_filled_in_two_counties_and_summed_at_every_tier(backend: Backend) {
    use crate::federation::{child_node, free_port, national};
    use tracenode::config::Tier;
    let nation = national(backend).await;
    let province = child_node(backend, &nation, Tier::Province, "330000", Some(free_port())).await;
    let city = child_node(backend, &province, Tier::City, "330100", Some(free_port())).await;
    let west = child_node(backend, &city, Tier::County, "330106", None).await;
    let upper = child_node(backend, &city, Tier::County, "330102", None).await;

    // The national node defines the form and publishes it: it goes down to every tier.
    let (nsys, nsec) = (nation.admin("sysadmin").await, nation.admin("secadmin").await);
    let nstaff = nation.staff(&nsys, &nsec, "statistician", None).await;
    import_classes(&nation, &nstaff).await;
    json_of(nstaff.post(&nation, "/api/v1/industry/forms", form("SX-901")).await, 201).await;
    json_of(nstaff.post(&nation, "/api/v1/industry/forms/SX-901/publish", json!({})).await, 200).await;
    let w = county_desk(&west, "330106").await;
    let u = county_desk(&upper, "330102").await;
    // Below the national node the form is read-only.
    let mut changed = form("SX-901");
    changed["name"] = json!("县级改名");
    expect_problem(w.staff.put(&west, "/api/v1/industry/forms/SX-901", changed).await, 409, "conflict").await;

    // 西湖区's person fills it in the console and it is approved; 上城区 is late.
    let fill = format!("/system-building/industry/forms/SX-901/periods/{PERIOD}/fill");
    let filled_west = [("v_A01", "120.125"), ("v_A02", "20"), ("v_B01", "70"), ("v_C01", "9"), ("submit", "yes")];
    let html = post_form(&west, &w.person, &fill, &filled_west).await;
    assert!(html.contains("已提交，等待审核"), "submitted in the console");
    approve_all(&west, &w.staff).await;
    let at_city = summary_at(&city, &nstaff_at(&city).await, "330100", |s| s["total"]["units_expected"].is_i64()).await;
    let missing: Vec<&str> = at_city["children"]
        .as_array()
        .expect("children")
        .iter()
        .filter(|c| c["summary"].is_null())
        .filter_map(|c| c["region"].as_str())
        .collect();
    assert_eq!(missing, ["330102"], "the late county is shown as missing: {at_city}");
    let national_view = summary_at(&nation, &nstaff, "330100", |s| s["total"]["children_reported"] == 1).await;
    assert_eq!(national_view["total"]["children_expected"], 2, "{national_view}");
    assert_eq!(figure(&national_view, "A01"), Some(milli("120.125")), "{national_view}");

    // 上城区's unit keeps a draft through the API, then uploads its workbook and submits.
    let draft = json!({"values": {"A01": "1"}, "submit": false});
    json_of(put_report(&upper, &u.key, "SX-901", PERIOD, draft).await, 200).await;
    let path = format!("{}.xlsx?submit=true", report_path("SX-901", PERIOD));
    let rows = [("A01", "万元", "79.875"), ("A02", "万元", "30.5"), ("B01", "%", "91"), ("C01", "家", "14")];
    json_of(u.key.send(&upper, &path, XLSX, workbook("SX-901", PERIOD, &rows)).await, 200).await;
    let mine = page(&upper, &u.person, "/system-building/industry").await;
    assert!(mine.contains("SX-901") && mine.contains("待审核"), "the person sees the report waiting");
    approve_all(&upper, &u.staff).await;

    // Every tier holds the same figures: the sums of what was filled.
    let total = summary_at(&nation, &nstaff, "100000", |s| figure(s, "A01") == Some(milli("200"))).await;
    assert_eq!(figure(&total, "A02"), Some(milli("50.5")), "{total}");
    assert_eq!(figure(&total, "B01"), Some((milli("70") + milli("91")) / 2), "the average of the two units: {total}");
    assert_eq!(figure(&total, "C01"), Some(milli("14")), "{total}");
    assert_eq!(
        (total["total"]["children_reported"].as_i64(), total["total"]["children_expected"].as_i64()),
        (Some(1), Some(1))
    );
    let regions: Vec<&str> =
        total["parts"].as_array().expect("parts").iter().filter_map(|p| p["source_region"].as_str()).collect();
    assert_eq!(regions, ["330000", "330100", "330102", "330106"], "drill-down to each county: {total}");
    let city_part =
        total["parts"].as_array().expect("parts").iter().find(|p| p["source_region"] == "330100").expect("city");
    assert_eq!((city_part["children_reported"].as_i64(), city_part["children_expected"].as_i64()), (Some(2), Some(2)));
    // Drilled down to one county at the national node, its own figures.
    let county = summary_at(&nation, &nstaff, "330102", |s| s["total"].is_object()).await;
    assert_eq!(figure(&county, "A01"), Some(milli("79.875")), "{county}");
    // The national console shows the same.
    let html = page(&nation, &nstaff, &format!("/system-building/industry/forms/SX-901/periods/{PERIOD}")).await;
    assert!(html.contains(r#"<td class="value">200</td>"#), "the national page");
}
on_both_backends!(a_national_form_is_filled_in_two_counties_and_summed_at_every_tier);

/// A staff member of a node, for reading its summaries.
async fn nstaff_at(app: &TestApp) -> Session {
    let (sys, sec) = (app.admin("sysadmin").await, app.admin("secadmin").await);
    app.staff(&sys, &sec, "reader", None).await
}
