//! The console in a real browser (Debian's Chromium driven through ChromeDriver): sign in with
//! a one-time password, change it, enrol TOTP, create a tenant and see it listed. Screenshots
//! are saved to `test-artifacts/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::both_backends;
use crate::support::{Backend, TestApp};

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(var: &str, default: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    assert!(
        std::path::Path::new(&path).exists(),
        "the browser test needs {path} ({var}); scripts/test.sh installs Debian's chromium and chromium-driver"
    );
    path
}

fn start_driver() -> Driver {
    let chromedriver = tool("TRACENODE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
    let port = crate::support::free_ports(1);
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    Driver { child, port }
}

async fn connect(driver: &Driver) -> Client {
    let chromium = tool("TRACENODE_TEST_CHROMIUM", "/usr/bin/chromium");
    let profile = tempfile::tempdir().expect("profile").keep();
    let caps = serde_json::json!({
        "acceptInsecureCerts": true,
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", "--lang=zh-CN", format!("--user-data-dir={}", profile.display())]
        }
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    };
    let url = format!("http://127.0.0.1:{}", driver.port);
    for _ in 0..50 {
        if let Ok(c) = ClientBuilder::native().capabilities(caps.clone()).connect(&url).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("could not connect to chromedriver at {url}");
}

fn artifact(name: &str) -> PathBuf {
    let dir = std::env::var("TRACENODE_TEST_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-artifacts"));
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir.join(name)
}

async fn fill(c: &Client, css: &str, value: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.expect("click");
}

async fn body_text(c: &Client) -> String {
    for _ in 0..50 {
        // A page that is being replaced can answer with a stale element: ask again.
        if let Ok(body) = c.find(Locator::Css("body")).await {
            if let Ok(text) = body.text().await {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never settled");
}

/// Waits until the page shows `text` (after a form submission navigates).
async fn wait_for_text(c: &Client, text: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = body_text(c).await;
        if last.contains(text) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the page never showed {text:?}; it shows:\n{last}");
}

/// Waits until the browser is at `path`.
async fn wait_for_path(c: &Client, path: &str) {
    let mut at = String::new();
    for _ in 0..100 {
        at = c.current_url().await.expect("url").path().to_owned();
        if at == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached {path}; it is at {at}");
}

/// Signs `username` in for the first time: one-time password, new password, TOTP.
async fn first_sign_in(c: &Client, app: &TestApp, username: &str) {
    c.goto(&app.url("/login")).await.expect("goto");
    wait_for_text(c, "登录").await;
    fill(c, "#username", username).await;
    fill(c, "#password", &app.one_time_password(username)).await;
    click(c, "#sign-in").await;
    wait_for_path(c, "/password").await;
    fill(c, "#current_password", &app.one_time_password(username)).await;
    fill(c, "#new_password", "Browser-Test-Pass1").await;
    fill(c, "#confirm_password", "Browser-Test-Pass1").await;
    click(c, "#change-password").await;
    wait_for_path(c, "/totp").await;
    let secret = c.find(Locator::Css("#totp-secret")).await.expect("secret").text().await.expect("text");
    let code =
        tracenode::credentials::totp::code_at(secret.trim(), tracenode::credentials::totp::unix_now()).expect("code");
    fill(c, "#code", &code).await;
    click(c, "#verify").await;
    wait_for_path(c, "/").await;
}

async fn console_first_sign_in_and_tenant(app: TestApp) {
    let driver = start_driver();
    let c = connect(&driver).await;
    let backend = format!("{:?}", app.backend).to_lowercase();
    c.goto(&app.url("/")).await.expect("goto");
    wait_for_path(&c, "/login").await;
    wait_for_text(&c, "登录").await;
    // A wrong password reads as a generic error.
    fill(&c, "#username", "sysadmin").await;
    fill(&c, "#password", "Wrong-password-1").await;
    click(&c, "#sign-in").await;
    wait_for_text(&c, "用户名或密码错误").await;
    fill(&c, "#username", "sysadmin").await;
    fill(&c, "#password", &app.one_time_password("sysadmin")).await;
    click(&c, "#sign-in").await;
    wait_for_path(&c, "/password").await;
    wait_for_text(&c, "请先设置新密码").await;
    fill(&c, "#current_password", &app.one_time_password("sysadmin")).await;
    fill(&c, "#new_password", "Browser-Test-Pass1").await;
    fill(&c, "#confirm_password", "Browser-Test-Pass1").await;
    click(&c, "#change-password").await;
    wait_for_path(&c, "/totp").await;
    let secret = c.find(Locator::Css("#totp-secret")).await.expect("secret").text().await.expect("text");
    let code =
        tracenode::credentials::totp::code_at(secret.trim(), tracenode::credentials::totp::unix_now()).expect("code");
    fill(&c, "#code", &code).await;
    click(&c, "#verify").await;
    wait_for_path(&c, "/").await;
    let home = wait_for_text(&c, "欢迎").await;
    assert!(home.contains("系统管理员"), "{home}");
    for label in ["主体与产品注册", "数据接入与管理", "统计分析", "监测评价", "租户", "用户", "接口密钥"]
    {
        assert!(home.contains(label), "navigation lacks {label}");
    }
    c.screenshot()
        .await
        .map(|png| std::fs::write(artifact(&format!("console-home-{backend}.png")), png))
        .expect("shot")
        .expect("write");
    // Unbuilt capabilities say so plainly.
    c.goto(&app.url("/stats")).await.expect("goto");
    wait_for_text(&c, "尚未建成").await;
    // Create a tenant and see it listed.
    c.goto(&app.url("/tenants")).await.expect("goto");
    fill(&c, "#code", "xihu-market").await;
    fill(&c, "#name", "西湖区农贸市场管理平台").await;
    fill(&c, "#region", "330106").await;
    fill(&c, "#contact", "李明 0571-88888888").await;
    click(&c, "#create-tenant").await;
    wait_for_text(&c, "已创建租户").await;
    let table = c.find(Locator::Css("#tenants")).await.expect("table").text().await.expect("text");
    assert!(table.contains("西湖区农贸市场管理平台") && table.contains("330106 西湖区"), "{table}");
    // A bad region is explained in Chinese and nothing is created.
    fill(&c, "#code", "bad-one").await;
    fill(&c, "#name", "错误地区").await;
    fill(&c, "#region", "320106").await;
    click(&c, "#create-tenant").await;
    wait_for_text(&c, "不在本节点辖区").await;
    let table = c.find(Locator::Css("#tenants")).await.expect("table").text().await.expect("text");
    assert!(!table.contains("错误地区"));
    // A page the administrator may not open is refused in Chinese.
    c.goto(&app.url("/audit")).await.expect("goto");
    wait_for_text(&c, "无权执行此操作").await;
    c.goto(&app.url("/tenants")).await.expect("goto");
    wait_for_text(&c, "西湖区农贸市场管理平台").await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("console-tenants-{backend}.png")), png).expect("write");
    c.close().await.expect("close");
}
both_backends!(console_first_sign_in_and_tenant);

async fn console_registers_reviews_finds_and_maps_an_entity(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let tenant = app.tenant(&sys, "hz-market-dept", "330106").await;
    // A staff member with the built-in 业务人员 role, its first password already changed.
    let _ = app.staff(&sys, &sec, "li.reviewer", None).await;
    // Two registrations from the tenant's system wait for review.
    let key = crate::registry::Machine {
        client: app.client(),
        key: app.api_key(&sys, &sec, tenant["id"].as_str().expect("tenant")).await,
    };
    for i in 0..2 {
        let body =
            crate::registry::entity(&crate::registry::code("330106", 4300 + i), &format!("待批量审核{i}"), "330106");
        assert_eq!(key.post(&app, "/api/v1/registry/entities", body).await.status(), 201);
    }
    let driver = start_driver();
    let c = connect(&driver).await;
    let backend = format!("{:?}", app.backend).to_lowercase();
    c.goto(&app.url("/login")).await.expect("goto");
    fill(&c, "#username", "li.reviewer").await;
    fill(&c, "#password", "Staff-Member-Pass1").await;
    click(&c, "#sign-in").await;
    wait_for_path(&c, "/").await;
    // Both approved at once from the review queue.
    c.goto(&app.url("/registry/review")).await.expect("goto");
    wait_for_text(&c, "待审核的登记（2）").await;
    for tick in c.find_all(Locator::Css("#bulk-entities input[name=ids]")).await.expect("boxes") {
        tick.click().await.expect("tick");
    }
    click(&c, "#bulk-approve-entities").await;
    wait_for_text(&c, "已通过 2 条").await;
    wait_for_text(&c, "待审核的登记（0）").await;
    c.goto(&app.url("/registry/new")).await.expect("goto");
    wait_for_text(&c, "统一社会信用代码").await;
    let code = tracenode_adapters::identifiers::Uscc::generate("91", "330106", 4242).expect("code");
    fill(&c, "#code", code.as_str()).await;
    fill(&c, "#name", "西湖龙井茶叶专业合作社").await;
    fill(&c, "#region", "330106").await;
    fill(&c, "#address", "杭州市西湖区龙井路1号").await;
    fill(&c, "#longitude", "120.12").await;
    fill(&c, "#latitude", "30.23").await;
    fill(&c, "#contact_person", "王茶农").await;
    fill(&c, "#contact_phone", "0571-87651234").await;
    click(&c, "#submit-entity").await;
    wait_for_text(&c, "待审核").await;
    let entity_page = c.current_url().await.expect("url");
    assert!(entity_page.path().starts_with("/registry/entities/"));
    // Approve it as the reviewer.
    click(&c, "#approve").await;
    wait_for_text(&c, "已审核通过").await;
    // Register one of its devices on its page; a bad MAC is explained in Chinese.
    fill(&c, "#model", "TS-200").await;
    fill(&c, "#mac", "00:1A:2B").await;
    fill(&c, "#serial_number", "SN-0001").await;
    click(&c, "#submit-device").await;
    wait_for_text(&c, "MAC地址应为6组十六进制数").await;
    fill(&c, "#model", "TS-200").await;
    fill(&c, "#mac", "00-1a-2b-3c-4d-5e").await;
    fill(&c, "#serial_number", "SN-0001").await;
    click(&c, "#submit-device").await;
    wait_for_text(&c, "00:1A:2B:3C:4D:5E").await;
    // Change it: the phone applies at once, the name waits for review.
    click(&c, "#edit-entity").await;
    wait_for_text(&c, "提交修改").await;
    fill(&c, "#contact_phone", "0571-87650000").await;
    fill(&c, "#name", "西湖龙井茶叶合作社").await;
    click(&c, "#submit-entity").await;
    let text = wait_for_text(&c, "待审核：名称").await;
    assert!(text.contains("已生效：联系电话"), "{text}");
    // Find it by search and see it on the map.
    c.goto(&app.url("/registry")).await.expect("goto");
    fill(&c, "#q", "龙井").await;
    click(&c, "#search").await;
    for _ in 0..100 {
        if c.current_url().await.expect("url").query().is_some_and(|q| q.contains("q=")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let results = wait_for_text(&c, "西湖龙井茶叶专业合作社").await;
    assert!(results.contains("已通过"), "{results}");
    let total = c.find(Locator::Css("#total")).await.expect("total").text().await.expect("text");
    assert_eq!(total, "1");
    let points = c.find_all(Locator::Css("#point-map .entity-point")).await.expect("points");
    assert_eq!(points.len(), 1, "the entity is plotted");
    let tiles = c.find(Locator::Css("#region-tiles")).await.expect("tiles").text().await.expect("text");
    assert!(tiles.contains("西湖区"), "{tiles}");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("registry-search-map-{backend}.png")), png).expect("write");
    c.goto(&app.url("/registry/analysis")).await.expect("goto");
    wait_for_text(&c, "按追溯环节").await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("registry-analysis-{backend}.png")), png).expect("write");
    // Register a product of the entity, approve it, and find it in the product list.
    c.goto(&app.url("/registry/products/new")).await.expect("goto");
    wait_for_text(&c, "产品编码").await;
    fill(&c, "#entity_code", code.as_str()).await;
    fill(&c, "#code", "6901234567893").await;
    fill(&c, "#name", "西湖龙井 明前特级").await;
    fill(&c, "#specification", "250g/罐").await;
    click(&c, "#submit-product").await;
    wait_for_text(&c, "校验位错误").await;
    fill(&c, "#code", "6901234567892").await;
    click(&c, "#submit-product").await;
    wait_for_text(&c, "06901234567892").await;
    click(&c, "#approve").await;
    wait_for_text(&c, "已审核通过").await;
    click(&c, "#edit-product").await;
    wait_for_text(&c, "提交修改").await;
    fill(&c, "#brand", "狮峰").await;
    click(&c, "#submit-product").await;
    wait_for_text(&c, "已生效：品牌").await;
    c.goto(&app.url("/registry/products")).await.expect("goto");
    let list = wait_for_text(&c, "西湖龙井 明前特级").await;
    assert!(list.contains("已通过"), "{list}");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("registry-products-{backend}.png")), png).expect("write");
    // Sites: add a market.
    c.goto(&app.url("/registry/sites")).await.expect("goto");
    wait_for_text(&c, "登记节点").await;
    fill(&c, "#code", "xh-market").await;
    fill(&c, "#name", "西湖农贸市场").await;
    click(&c, "#submit-site").await;
    wait_for_text(&c, "节点 西湖农贸市场 已登记").await;
    // Change policies: let the tenant rename its products without review.
    c.goto(&app.url("/registry/policies?kind=product")).await.expect("goto");
    wait_for_text(&c, "修改方式").await;
    let select = c.find(Locator::Css("#mode_name")).await.expect("select");
    select.select_by_value("free").await.expect("choose");
    click(&c, "#save-policies").await;
    wait_for_text(&c, "变更权限已保存").await;
    let chosen = c.find(Locator::Css("#mode_name option[selected]")).await.expect("option");
    assert_eq!(chosen.attr("value").await.expect("attr").as_deref(), Some("free"));
    // Trace data: a quick import of pasted CSV; the bad row is explained in Chinese, the good
    // one is found on the trace page.
    c.goto(&app.url("/ingest")).await.expect("goto");
    wait_for_text(&c, "快速导入").await;
    let csv = format!(
        "id,from_code,from_name,from_region,trace_code,product_name,category,stage,direction,quantity,unit,time\n\
         b-1,{code},西湖龙井茶叶专业合作社,330106,TC-BROWSER-1,明前龙井,01,distribution_sale,out,2,罐,2026-11-20T10:00:00+08:00\n\
         b-2,{code},西湖龙井茶叶专业合作社,330106,TC-BROWSER-2,明前龙井,01,selling,out,2,罐,2026-11-20T10:00:00+08:00\n",
        code = code.as_str()
    );
    // A sale to a buyer that is not registered: stored, and flagged as an anomaly.
    let stranger = tracenode_adapters::identifiers::Uscc::generate("91", "330106", 4343).expect("code");
    let csv = format!(
        "{csv}b-3,{code},西湖龙井茶叶专业合作社,330106,TC-BROWSER-3,明前龙井,01,distribution_sale,out,1,罐,2026-11-20T11:00:00+08:00\n"
    )
    .replacen("id,from_code,", "id,to_code,from_code,", 1)
    .replace("b-1,", "b-1,,")
    .replace("b-2,", "b-2,,")
    .replace("b-3,", &format!("b-3,{},", stranger.as_str()));
    fill(&c, "#content", &csv).await;
    click(&c, "#submit-import").await;
    let receipt = wait_for_text(&c, "拒收的记录").await;
    assert!(receipt.contains("未知的追溯环节"), "{receipt}");
    assert!(receipt.contains("已入库"), "{receipt}");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("ingest-receipt-{backend}.png")), png).expect("write");
    c.goto(&app.url("/trace?trace_code=TC-BROWSER-1")).await.expect("goto");
    let found = wait_for_text(&c, "明前龙井").await;
    assert!(found.contains("配送销售") && found.contains("西湖龙井茶叶专业合作社"), "{found}");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("trace-search-{backend}.png")), png).expect("write");
    c.goto(&app.url("/ingest")).await.expect("goto");
    let list = wait_for_text(&c, "最近的报送").await;
    assert!(list.contains("文件导入"), "{list}");
    // Transmission monitoring shows the department's batch.
    c.goto(&app.url("/ingest/monitor")).await.expect("goto");
    let traffic = wait_for_text(&c, "各发送方近 30 天的报送").await;
    assert!(traffic.contains("hz-market-dept") && traffic.contains("已入库"), "{traffic}");
    assert!(traffic.contains("接收负载") && traffic.contains("没有告警"), "{traffic}");
    c.find(Locator::Css("#records-chart svg")).await.expect("the hourly chart is drawn");
    click(&c, "#check-now").await;
    wait_for_text(&c, "检查完成").await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("monitor-{backend}.png")), png).expect("write");
    // Alert notifications: a bad address is refused, a good one is listed.
    c.goto(&app.url("/notify")).await.expect("goto");
    wait_for_text(&c, "添加通知渠道").await;
    fill(&c, "#name", "值班邮箱").await;
    fill(&c, "#target", "不是地址").await;
    click(&c, "#add-channel").await;
    wait_for_text(&c, "不是有效的电子邮件地址").await;
    fill(&c, "#name", "值班邮箱").await;
    fill(&c, "#target", "duty@node.test").await;
    click(&c, "#add-channel").await;
    let added = wait_for_text(&c, "通知渠道“值班邮箱”已添加").await;
    assert!(added.contains("duty@node.test") && added.contains("全部租户"), "{added}");
    // The anomaly is reviewed from its list.
    c.goto(&app.url("/quality/anomalies?status=open")).await.expect("goto");
    let open = wait_for_text(&c, "引用未注册主体").await;
    assert!(open.contains("b-3") && open.contains("待审核"), "{open}");
    click(&c, "button.confirm").await;
    let reviewed = wait_for_text(&c, "的异常已审核").await;
    assert!(reviewed.contains("已确认异常"), "{reviewed}");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("anomalies-{backend}.png")), png).expect("write");
    c.goto(&app.url("/quality/report")).await.expect("goto");
    let report = wait_for_text(&c, "数据质量报告").await;
    assert!(
        report.contains("入库率") && report.contains("引用未注册主体") && report.contains("导出 Excel"),
        "{report}"
    );
    // Anomaly rules: the built-in ones are listed; a price range is added, then disabled.
    c.goto(&app.url("/quality/rules")).await.expect("goto");
    let rules = wait_for_text(&c, "异常数据监测规则").await;
    assert!(rules.contains("单品追溯码重复销售") && rules.contains("价格偏离近期均价"), "{rules}");
    fill(&c, "#name", "单价上限").await;
    c.find(Locator::Css("#range_field")).await.expect("select").select_by_value("price").await.expect("choose");
    fill(&c, "#range_max", "abc").await;
    click(&c, "#save-rule").await;
    wait_for_text(&c, "上限应为数字").await;
    fill(&c, "#range_max", "50").await;
    click(&c, "#save-rule").await;
    let saved = wait_for_text(&c, "规则“单价上限”已保存").await;
    assert!(saved.contains("单价（元）应在 [—, 50] 之内"), "{saved}");
    let toggle = "//tr[td[text()='单价上限']]//button[contains(@class,'toggle')]";
    c.find(Locator::XPath(toggle)).await.expect("toggle").click().await.expect("click");
    wait_for_text(&c, "规则“单价上限”已停用").await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("rules-{backend}.png")), png).expect("write");
    // The tenant's ingestion policy: quarantine records that name unregistered entities.
    c.goto(&app.url("/ingest/policies")).await.expect("goto");
    wait_for_text(&c, "设置策略").await;
    let select = c.find(Locator::Css("#unknown_reference")).await.expect("select");
    select.select_by_value("quarantine").await.expect("choose");
    fill(&c, "#submissions_per_minute", "abc").await;
    click(&c, "#submit-policy").await;
    wait_for_text(&c, "应为整数或留空").await;
    let select = c.find(Locator::Css("#unknown_reference")).await.expect("select");
    select.select_by_value("quarantine").await.expect("choose");
    fill(&c, "#submissions_per_minute", "60").await;
    click(&c, "#submit-policy").await;
    let saved = wait_for_text(&c, "接入策略已保存").await;
    assert!(saved.contains("隔离待查"), "{saved}");
    c.close().await.expect("close");
}
both_backends!(console_registers_reviews_finds_and_maps_an_entity);

/// The federation pages: a province approves a city's enrolment, sees its children, issues a
/// tenant's certificate and revokes it.
async fn console_runs_the_federation(backend: Backend) {
    use crate::federation::{child_node, federation_toml, free_port, national, text, tracenode};
    let nation = national(backend).await;
    let province = child_node(backend, &nation, tracenode::config::Tier::Province, "330000", Some(free_port())).await;
    let toml = federation_toml(None, Some(&province));
    let city = TestApp::spawn_node(backend, tracenode::config::Tier::City, "330100", &toml, |_| {}).await;
    let ca = province.node_dir().join("certs/ca.pem");
    let asked = tracenode(&city, &["pki", "enrol", "--parent", &province.base, "--ca-file", ca.to_str().expect("p")]);
    assert!(asked.status.success(), "{}", text(&asked));
    let tenant = tracenode(
        &province,
        &[
            "tenant",
            "add",
            "--code",
            "zj-platform",
            "--name",
            "浙江省追溯平台",
            "--kind",
            "platform",
            "--region",
            "330000",
        ],
    );
    assert!(tenant.status.success(), "{}", text(&tenant));

    let driver = start_driver();
    let c = connect(&driver).await;
    let name = format!("{backend:?}").to_lowercase();
    first_sign_in(&c, &province, "sysadmin").await;

    c.goto(&province.url("/federation")).await.expect("goto");
    let page = wait_for_text(&c, "入网申请").await;
    assert!(page.contains("urn:tracenode:node:330000") && page.contains("杭州市"), "{page}");
    click(&c, "#enrolments button.approve").await;
    wait_for_text(&c, "已批准").await;
    let children = c.find(Locator::Css("#children")).await.expect("children").text().await.expect("text");
    assert!(children.contains("330100") && children.contains("市级"), "{children}");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("console-federation-{name}.png")), png).expect("write");

    c.goto(&province.url("/federation/certificates")).await.expect("goto");
    wait_for_text(&c, "证书台账").await;
    fill(&c, "#days", "20").await;
    click(&c, "#issue").await;
    wait_for_text(&c, "私钥只显示这一次").await;
    let key =
        c.find(Locator::Css("#bundle-key")).await.expect("key").prop("value").await.expect("value").unwrap_or_default();
    assert!(key.contains("BEGIN PRIVATE KEY"), "{key}");
    let table = c.find(Locator::Css("#certificates")).await.expect("table").text().await.expect("text");
    assert!(table.contains("tenant:330000:zj-platform") && table.contains("即将到期"), "{table}");
    fill(&c, "tr[data-kind=tenant_client] input[name=reason]", "测试吊销").await;
    click(&c, "tr[data-kind=tenant_client] button.revoke").await;
    wait_for_text(&c, "已吊销").await;
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("console-certificates-{name}.png")), png).expect("write");
    c.close().await.expect("close");
}
crate::on_both_backends!(console_runs_the_federation);

/// Signs in an administrator whose password and TOTP are set (its API session's secret). A
/// code is taken once: when the API session used this time step's code, the node refuses it
/// as a replay, and the next step's code is entered.
async fn sign_in_with_totp(c: &Client, app: &TestApp, username: &str, secret: &str) {
    use tracenode::credentials::totp::{code_at, unix_now};
    c.goto(&app.url("/login")).await.expect("goto");
    fill(c, "#username", username).await;
    fill(c, "#password", crate::support::ADMIN_PASSWORD).await;
    click(c, "#sign-in").await;
    wait_for_path(c, "/totp").await;
    for _ in 0..2 {
        fill(c, "#code", &code_at(secret, unix_now()).expect("code")).await;
        click(c, "#verify").await;
        for _ in 0..30 {
            if c.current_url().await.expect("url").path() == "/" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let wait = 31 - unix_now() % 30;
        tokio::time::sleep(Duration::from_secs(wait)).await;
    }
    wait_for_path(c, "/").await;
}

async fn console_takes_a_platform_from_its_application_to_its_data(app: TestApp) {
    let sys = app.admin("sysadmin").await;
    let sec = app.admin("secadmin").await;
    let _ = app.staff(&sys, &sec, "wang.reviewer", None).await;
    let driver = start_driver();
    let backend = format!("{:?}", app.backend).to_lowercase();
    let example = crate::access::application();
    let text = |k: &str| example[k].as_str().expect("text").to_owned();

    // The applicant, signed in to nothing, fills the public form; a bad code is explained.
    let applicant = connect(&driver).await;
    applicant.goto(&app.url("/access/apply")).await.expect("goto");
    wait_for_text(&applicant, "平台接入申请").await;
    for field in
        ["org_name", "region", "contact_name", "contact_phone", "contact_email", "system_name", "system_operator"]
    {
        fill(&applicant, &format!("#{field}"), &text(field)).await;
    }
    fill(&applicant, "#org_code", "91330106MA2KQ8U70X").await;
    fill(&applicant, "#families", "肉类、蔬菜").await;
    click(&applicant, "input[name=stage_transport]").await;
    click(&applicant, "input[name=format_csv]").await;
    fill(&applicant, "#volume_per_day", "20000").await;
    fill(&applicant, "#addresses", "203.0.113.0/24").await;
    click(&applicant, "#submit-application").await;
    wait_for_text(&applicant, "统一社会信用代码").await;
    fill(&applicant, "#org_code", &text("org_code")).await;
    click(&applicant, "#submit-application").await;
    wait_for_text(&applicant, "申请已提交").await;
    let token = applicant.find(Locator::Css("#token")).await.expect("token").text().await.expect("text");
    applicant.goto(&app.url("/access/status")).await.expect("goto");
    fill(&applicant, "#token", token.trim()).await;
    click(&applicant, "#look-up").await;
    wait_for_text(&applicant, "待审核").await;

    // A reviewer approves it.
    let reviewer = connect(&driver).await;
    reviewer.goto(&app.url("/login")).await.expect("goto");
    fill(&reviewer, "#username", "wang.reviewer").await;
    fill(&reviewer, "#password", "Staff-Member-Pass1").await;
    click(&reviewer, "#sign-in").await;
    wait_for_path(&reviewer, "/").await;
    reviewer.goto(&app.url("/system-building")).await.expect("goto");
    wait_for_text(&reviewer, "待审核申请 1 份").await;
    reviewer.goto(&app.url("/system-building/access")).await.expect("goto");
    click(&reviewer, "#applications a[href^='/system-building/access/']").await;
    wait_for_text(&reviewer, "鲜链追溯云").await;
    click(&reviewer, "#approve").await;
    wait_for_text(&reviewer, "审核通过，待备案").await;

    // The system administrator files it and hands over the key.
    let admin = connect(&driver).await;
    sign_in_with_totp(&admin, &app, "sysadmin", sys.secret.as_deref().expect("totp")).await;
    admin.goto(&app.url("/system-building/access?status=approved")).await.expect("goto");
    click(&admin, "#applications a[href^='/system-building/access/']").await;
    fill(&admin, "#tenant_code", "xianlian").await;
    click(&admin, "#file-submit").await;
    wait_for_text(&admin, "只显示这一次").await;
    let secret = admin.find(Locator::Css("#secret")).await.expect("secret").text().await.expect("text");

    // The platform sends its data with the key.
    let key = crate::registry::Machine { client: app.client(), key: secret.trim().to_owned() };
    let records = [crate::ingest::record(
        "b1",
        "TC-B1",
        &crate::registry::code("330106", 901),
        &crate::registry::code("330106", 902),
        2.0,
        Some(5.0),
    )];
    let res = key.send(&app, "/api/v1/imports?format=csv", "text/csv", crate::ingest::csv_of(&records)).await;
    assert_eq!(res.status(), 200);
    admin.goto(&app.url("/system-building/access")).await.expect("goto");
    let watched = admin.find(Locator::Css("#connections")).await.expect("table").text().await.expect("text");
    assert!(watched.contains("鲜链追溯云") && watched.contains("已备案"), "{watched}");
    let png = admin.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("console-access-{backend}.png")), png).expect("write");

    // The applicant sees its filing number.
    applicant.goto(&app.url("/access/status")).await.expect("goto");
    fill(&applicant, "#token", token.trim()).await;
    click(&applicant, "#look-up").await;
    let shown = wait_for_text(&applicant, "已备案").await;
    assert!(shown.contains("330100-JR-"), "{shown}");

    // Staff watch the platform's reporting under 主体运行监测, set a threshold in the form
    // and open its trend.
    // The record was of 2026-11-20.
    reviewer.goto(&app.url("/system-building/monitoring?view=tenants&month=2026-11")).await.expect("goto");
    let listed = reviewer.find(Locator::Css("#indicators")).await.expect("table").text().await.expect("text");
    assert!(listed.contains("xianlian"), "{listed}");
    reviewer.goto(&app.url("/system-building/monitoring/thresholds")).await.expect("goto");
    fill(&reviewer, "#bound", "150").await;
    click(&reviewer, "#save-threshold").await;
    wait_for_text(&reviewer, "比率阈值应在").await;
    fill(&reviewer, "#bound", "95").await;
    click(&reviewer, "#save-threshold").await;
    let saved = wait_for_text(&reviewer, "已保存").await;
    assert!(saved.contains("低于 95%"), "{saved}");
    reviewer.goto(&app.url("/system-building/monitoring?view=tenants&month=2026-11")).await.expect("goto");
    click(&reviewer, "#indicators tr[data-code='xianlian'] a").await;
    wait_for_text(&reviewer, "租户 ").await;
    reviewer.find(Locator::Css("#trend-chart svg")).await.expect("the trend is drawn");
    let png = reviewer.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("console-monitoring-{backend}.png")), png).expect("write");

    // Staff define the platforms' indicator set in the console (a weight short of 100 is shown
    // on the form), evaluate November: the run ranks the platform, its report reads in three
    // sections and is sent; the tier view shows the node's own platforms.
    reviewer.goto(&app.url("/evaluation")).await.expect("goto");
    click(&reviewer, "#new-set").await;
    wait_for_text(&reviewer, "新建指标体系").await;
    fill(&reviewer, "#code", "EV-PLAT").await;
    fill(&reviewer, "#name", "接入平台月度评价").await;
    reviewer.find(Locator::Css("#object_kind")).await.expect("select").select_by_value("tenant").await.expect("kind");
    fill(&reviewer, "input[name='i0_code']", "R1").await;
    fill(&reviewer, "input[name='i0_name']", "拒收率").await;
    let formula = reviewer.find(Locator::Css("select[name='i0_formula']")).await.expect("formula");
    formula.select_by_value("rejection_rate").await.expect("formula");
    fill(&reviewer, "input[name='i0_weight']", "90").await;
    fill(&reviewer, "input[name='i0_zero_at']", "20").await;
    fill(&reviewer, "input[name='i0_full_at']", "0").await;
    fill(&reviewer, "#excellent", "90").await;
    fill(&reviewer, "#good", "80").await;
    click(&reviewer, "#save-set").await;
    wait_for_text(&reviewer, "合计 100").await;
    fill(&reviewer, "input[name='i0_weight']", "100").await;
    click(&reviewer, "#save-set").await;
    wait_for_text(&reviewer, "已保存指标体系 EV-PLAT 第 1 版").await;
    fill(&reviewer, "#period", "2026-11").await;
    click(&reviewer, "#run-now").await;
    let ranked = wait_for_text(&reviewer, "等级分布").await;
    assert!(ranked.contains("xianlian") || ranked.contains("鲜链"), "{ranked}");
    click(&reviewer, "#report-link").await;
    wait_for_text(&reviewer, "二、上报数据质量情况").await;
    click(&reviewer, "#send-report").await;
    wait_for_text(&reviewer, "评价通知").await;
    let png = reviewer.screenshot().await.expect("screenshot");
    std::fs::write(artifact(&format!("console-evaluation-{backend}.png")), png).expect("write");
    reviewer.goto(&app.url("/evaluation/tiers")).await.expect("goto");
    fill(&reviewer, "#tier-form #period", "2026-11").await;
    click(&reviewer, "#tier-form button").await;
    let tier = wait_for_text(&reviewer, "下级辖区排名").await;
    assert!(tier.contains("本级评价对象") && (tier.contains("xianlian") || tier.contains("鲜链")), "{tier}");
    for c in [applicant, reviewer, admin] {
        c.close().await.expect("close");
    }
}
both_backends!(console_takes_a_platform_from_its_application_to_its_data);
