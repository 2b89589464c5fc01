//! Code lists of the exchange: supply-chain stages (追溯环节, GB/T 38155 terms).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A supply-chain stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 初级生产.
    PrimaryProduction,
    /// 生产加工.
    Processing,
    /// 包装.
    Packaging,
    /// 仓储.
    Warehousing,
    /// 运输.
    Transport,
    /// 配送销售.
    DistributionSale,
    /// 消费（使用）.
    Consumption,
}

impl Stage {
    /// Every stage, in chain order.
    pub const ALL: [Stage; 7] = [
        Stage::PrimaryProduction,
        Stage::Processing,
        Stage::Packaging,
        Stage::Warehousing,
        Stage::Transport,
        Stage::DistributionSale,
        Stage::Consumption,
    ];

    /// The code, e.g. `distribution_sale`.
    pub fn code(self) -> &'static str {
        match self {
            Stage::PrimaryProduction => "primary_production",
            Stage::Processing => "processing",
            Stage::Packaging => "packaging",
            Stage::Warehousing => "warehousing",
            Stage::Transport => "transport",
            Stage::DistributionSale => "distribution_sale",
            Stage::Consumption => "consumption",
        }
    }

    /// The Chinese term.
    pub fn label_zh(self) -> &'static str {
        match self {
            Stage::PrimaryProduction => "初级生产",
            Stage::Processing => "生产加工",
            Stage::Packaging => "包装",
            Stage::Warehousing => "仓储",
            Stage::Transport => "运输",
            Stage::DistributionSale => "配送销售",
            Stage::Consumption => "消费（使用）",
        }
    }

    /// Parses a code.
    pub fn from_code(code: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The stage's bit in a stage set.
    pub fn bit(self) -> i32 {
        1 << (self as i32)
    }

    /// The stages of a bit set, in chain order.
    pub fn from_bits(bits: i32) -> Vec<Stage> {
        Stage::ALL.into_iter().filter(|s| bits & s.bit() != 0).collect()
    }

    /// The bit set of `stages`.
    pub fn to_bits(stages: &[Stage]) -> i32 {
        stages.iter().fold(0, |acc, s| acc | s.bit())
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let s = vec![Stage::Processing, Stage::DistributionSale];
        assert_eq!(Stage::from_bits(Stage::to_bits(&s)), s);
        assert_eq!(Stage::to_bits(&Stage::ALL), 127);
        for st in Stage::ALL {
            assert_eq!(Stage::from_code(st.code()), Some(st));
        }
    }
}
