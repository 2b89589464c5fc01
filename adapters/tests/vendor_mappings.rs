//! The example vendor mappings shipped in `config/vendors/` connect their platforms' formats
//! without code: fields, value maps, date formats and units.

use std::path::Path;
use std::sync::Arc;

use tracenode_adapters::adapter::Decoder;
use tracenode_adapters::records::TraceRecord;
use tracenode_adapters::vendor::{Mapping, VendorDecoder};

fn mappings() -> Vec<Mapping> {
    Mapping::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/vendors")).expect("mappings")
}

fn mapping(name: &str) -> Arc<Mapping> {
    Arc::new(mappings().into_iter().find(|m| m.name == name).expect(name))
}

fn decode(m: Arc<Mapping>, input: &[u8]) -> Vec<Result<TraceRecord, String>> {
    let mut d =
        VendorDecoder::open(m, std::io::Cursor::new(input.to_vec()), tracenode_adapters::exchange::Limits::default())
            .expect("open");
    let mut out = Vec::new();
    while let Some(r) = d.next_record() {
        out.push(r.map_err(|e| {
            assert!(!e.fatal, "{e}");
            e.message
        }));
    }
    out
}

#[test]
fn both_examples_load() {
    let names: Vec<String> = mappings().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["hz-wholesale", "meat-csv"]);
}

#[test]
fn a_wholesale_platforms_json_maps_fields_values_dates_and_units() {
    let json = r#"[
      {"billNo": "PF202611200001", "trade": {"type": "批发", "dir": "销售", "weight": "120", "unit": "斤",
       "unitPrice": "3.6", "time": "20261120103000"},
       "seller": {"creditCode": "91330106MA27XXXXX0", "name": "西湖鲜果", "areaCode": "330106"},
       "buyer": {"creditCode": "", "name": "城西超市", "areaCode": "330102"},
       "goods": {"traceCode": "TC-0001", "name": "红富士苹果", "kind": "01", "spec": "5kg/箱", "lot": "B1120"},
       "market": "杭州农副产品物流中心"},
      {"billNo": "PF202611200002", "trade": {"type": "批发", "dir": "采购", "weight": "many", "unit": "公斤",
       "time": "20261120103000"}, "goods": {"traceCode": "TC-0002"}},
      {"billNo": "PF202611200003", "trade": {"type": "批发", "dir": "采购", "weight": "2", "unit": "公斤",
       "time": "2026-11-20"}, "goods": {"traceCode": "TC-0003"}}
    ]"#;
    let out = decode(mapping("hz-wholesale"), json.as_bytes());
    let r = out[0].as_ref().expect("mapped");
    assert_eq!(r.id, "PF202611200001");
    assert_eq!((r.act.stage.as_str(), r.act.direction.as_str()), ("distribution_sale", "out"));
    assert_eq!((r.act.quantity, r.act.unit.as_str()), (60.0, "千克"));
    assert_eq!(r.act.price, Some(7.2));
    assert_eq!(r.act.time, "2026-11-20T10:30:00+08:00");
    assert_eq!(r.from.region, "330106");
    assert_eq!(r.product.batch, "B1120");
    assert_eq!(r.product.scheme, "local");
    assert_eq!(r.act.place, "杭州农副产品物流中心");
    let bad = out[1].as_ref().expect_err("bad weight");
    assert!(bad.contains("act.quantity") && bad.contains("数字"), "{bad}");
    let bad = out[2].as_ref().expect_err("bad time");
    assert!(bad.contains("act.time") && bad.contains("%Y%m%d%H%M%S"), "{bad}");
}

#[test]
fn a_meat_systems_gbk_csv_export_maps_too() {
    let csv = "流水号,环节,供货商代码,供货商名称,供货商区划,采购商代码,采购商名称,采购商区划,追溯码,品名,品类,批次,屠宰日期,重量,单位,单价,金额,交易时间,交易地点\n\
               RZ-1,屠宰,91330106MA27XXXXX0,西湖肉联厂,330106,,,,3301060001,白条猪,,P1119,2026/11/19,1.2,吨,26500,31800,2026/11/20 08:15,西湖肉联厂\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    let out = decode(mapping("meat-csv"), &gbk);
    let r = out[0].as_ref().expect("mapped");
    assert_eq!(r.act.stage, "processing");
    assert_eq!(r.act.direction, "out");
    assert_eq!((r.act.quantity, r.act.unit.as_str()), (1200.0, "千克"));
    // 26,500 yuan a tonne is 26.5 yuan a kilogram.
    assert_eq!(r.act.price, Some(26.5));
    assert_eq!(r.act.amount, Some(31800.0));
    assert_eq!(r.product.production_date.as_deref(), Some("2026-11-19"));
    assert_eq!(r.product.category, "02");
    assert_eq!(r.act.time, "2026-11-20T08:15:00+08:00");
    assert_eq!(r.from.name, "西湖肉联厂");
}

#[test]
fn a_mapping_that_names_unknown_fields_or_misses_required_ones_is_refused() {
    let e = Mapping::parse("x.toml", "name = \"x1\"\ntitle = \"t\"\nformat = \"json\"\n[fields]\nid = \"a\"\n")
        .expect_err("missing");
    assert!(e.to_string().contains("product.trace_code"), "{e}");
    let text =
        "name = \"x1\"\ntitle = \"t\"\nformat = \"json\"\n[fields]\nid = \"a\"\n\"product.trace_code\" = \"b\"\n\
                \"act.stage\" = \"c\"\n\"act.quantity\" = \"d\"\n\"act.time\" = \"e\"\n\"act.colour\" = \"f\"\n";
    let e = Mapping::parse("x.toml", text).expect_err("unknown");
    assert!(e.to_string().contains("act.colour") && e.to_string().contains("未知的字段"), "{e}");
    let e = Mapping::parse("x.toml", "name = \"X Y\"\n").expect_err("syntax");
    assert!(e.to_string().contains("x.toml"));
}
