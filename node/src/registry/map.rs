//! The registry map, drawn on the server as SVG with no online tile service: the matching
//! entities as points (an equirectangular projection of their coordinates, fitted to their
//! extent), and the divisions one level below the current region as a tile grid shaded by how
//! many entities each holds. Each tile links to the search narrowed to that division.

use super::analysis::Bucket;
use super::model::Entity;
use crate::region::RegionCode;

/// The most points drawn.
pub const MAX_POINTS: i64 = 2000;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 420.0;

/// One plotted entity.
pub struct MapPoint {
    /// SVG x.
    pub x: f64,
    /// SVG y.
    pub y: f64,
    /// Entity id (for the link).
    pub id: crate::ids::EntityId,
    /// Name (tooltip).
    pub name: String,
    /// Whether it is approved (colour).
    pub approved: bool,
}

/// One division tile.
pub struct Tile {
    /// SVG x.
    pub x: f64,
    /// SVG y.
    pub y: f64,
    /// Region code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Entities in it.
    pub count: i64,
    /// Fill colour.
    pub fill: String,
    /// Text colour.
    pub text: &'static str,
}

/// What the map template draws.
pub struct MapView {
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// Points.
    pub points: Vec<MapPoint>,
    /// Tiles.
    pub tiles: Vec<Tile>,
    /// Height of the tile grid.
    pub tiles_height: f64,
    /// The region shown.
    pub region_name: String,
    /// Longitude/latitude extent shown, for the caption.
    pub extent: String,
}

fn shade(count: i64, max: i64) -> (String, &'static str) {
    if max == 0 || count == 0 {
        return ("#f0f4f8".into(), "#616e7c");
    }
    let t = (count as f64 / max as f64).sqrt();
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    let fill = format!("#{:02x}{:02x}{:02x}", lerp(230.0, 11.0), lerp(240.0, 61.0), lerp(250.0, 110.0));
    (fill, if t > 0.55 { "#ffffff" } else { "#1f2933" })
}

impl MapView {
    /// Lays out the points and tiles.
    pub fn new(region: &RegionCode, entities: &[Entity], by_region: &[Bucket]) -> MapView {
        let coords: Vec<(&Entity, f64, f64)> =
            entities.iter().filter_map(|e| Some((e, e.longitude?, e.latitude?))).collect();
        let mut points = Vec::new();
        let mut extent = String::new();
        if !coords.is_empty() {
            let (mut min_lon, mut max_lon, mut min_lat, mut max_lat) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for (_, lon, lat) in &coords {
                min_lon = min_lon.min(*lon);
                max_lon = max_lon.max(*lon);
                min_lat = min_lat.min(*lat);
                max_lat = max_lat.max(*lat);
            }
            let pad_lon = ((max_lon - min_lon) * 0.08).max(0.02);
            let pad_lat = ((max_lat - min_lat) * 0.08).max(0.02);
            let (min_lon, max_lon, min_lat, max_lat) =
                (min_lon - pad_lon, max_lon + pad_lon, min_lat - pad_lat, max_lat + pad_lat);
            let aspect = ((min_lat + max_lat) / 2.0).to_radians().cos();
            let scale = (WIDTH / ((max_lon - min_lon) * aspect)).min(HEIGHT / (max_lat - min_lat));
            let off_x = (WIDTH - (max_lon - min_lon) * aspect * scale) / 2.0;
            let off_y = (HEIGHT - (max_lat - min_lat) * scale) / 2.0;
            points = coords
                .iter()
                .map(|(e, lon, lat)| MapPoint {
                    x: off_x + (lon - min_lon) * aspect * scale,
                    y: off_y + (max_lat - lat) * scale,
                    id: e.id.clone(),
                    name: e.name.clone(),
                    approved: e.status == super::review::ReviewStatus::Approved.as_str(),
                })
                .collect();
            extent = format!("经度 {min_lon:.2}–{max_lon:.2}，纬度 {min_lat:.2}–{max_lat:.2}");
        }
        let max = by_region.iter().map(|b| b.count).max().unwrap_or(0);
        let cols = (by_region.len() as f64).sqrt().ceil().max(1.0) as usize;
        let tile_w = WIDTH / cols as f64;
        let tiles: Vec<Tile> = by_region
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let (fill, text) = shade(b.count, max);
                Tile {
                    x: (i % cols) as f64 * tile_w,
                    y: (i / cols) as f64 * 56.0,
                    code: b.key.clone(),
                    name: b.label.clone(),
                    count: b.count,
                    fill,
                    text,
                }
            })
            .collect();
        let rows = by_region.len().div_ceil(cols);
        MapView {
            width: WIDTH,
            height: HEIGHT,
            points,
            tiles,
            tiles_height: rows as f64 * 56.0,
            region_name: format!("{} {}", region, region.name()),
            extent,
        }
    }

    /// Width of one tile.
    pub fn tile_width(&self) -> f64 {
        let cols = (self.tiles.len() as f64).sqrt().ceil().max(1.0);
        self.width / cols - 4.0
    }
}
