//! The inverse of the standard normal CDF, for interval half-widths (z·σ).
//!
//! Wichura's AS241 `PPND16` (Applied Statistics 37(3), 1988): about 1e-16
//! relative accuracy, the same algorithm Python's `statistics.NormalDist`
//! uses, so z matches the reference generator to the last bits.

/// Φ⁻¹(p), the standard normal quantile; NaN outside (0, 1), ±∞ at 0 and 1.
#[allow(
    clippy::excessive_precision,
    reason = "coefficients are copied digit for digit from AS241 so they can be checked against it"
)]
pub fn quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        // Central region: a rational function in q², which is exact near the median.
        let r = 0.180_625 - q * q;
        let num = (((((((2.509_080_928_730_122_672_7e3 * r + 3.343_057_558_358_812_810_5e4)
            * r
            + 6.726_577_092_700_870_085_3e4)
            * r
            + 4.592_195_393_154_987_145_7e4)
            * r
            + 1.373_169_376_550_946_112_5e4)
            * r
            + 1.971_590_950_306_551_442_7e3)
            * r
            + 1.331_416_678_917_843_774_5e2)
            * r
            + 3.387_132_872_796_366_608_0)
            * q;
        let den = ((((((5.226_495_278_852_854_561_0e3 * r + 2.872_908_573_572_194_267_4e4) * r
            + 3.930_789_580_009_271_061_0e4)
            * r
            + 2.121_379_430_158_659_586_7e4)
            * r
            + 5.394_196_021_424_751_107_7e3)
            * r
            + 6.871_870_074_920_579_083_0e2)
            * r
            + 4.231_333_070_160_091_125_2e1)
            * r
            + 1.0;
        return num / den;
    }
    // Tails: a rational function in sqrt(-ln(tail probability)).
    let tail = if q <= 0.0 { p } else { 1.0 - p };
    let mut r = (-tail.ln()).sqrt();
    let x = if r <= 5.0 {
        r -= 1.6;
        let num = ((((((7.745_450_142_783_414_076_4e-4 * r + 2.272_384_498_926_918_458_33e-2)
            * r
            + 2.417_807_251_774_506_117_7e-1)
            * r
            + 1.270_458_252_452_368_382_58)
            * r
            + 3.647_848_324_763_204_605_04)
            * r
            + 5.769_497_221_460_691_405_5)
            * r
            + 4.630_337_846_156_545_295_9)
            * r
            + 1.423_437_110_749_683_577_34;
        let den = ((((((1.050_750_071_644_416_843_24e-9 * r + 5.475_938_084_995_344_946e-4)
            * r
            + 1.519_866_656_361_645_719_66e-2)
            * r
            + 1.481_039_764_274_800_745_9e-1)
            * r
            + 6.897_673_349_851_000_045_5e-1)
            * r
            + 1.676_384_830_183_803_849_4)
            * r
            + 2.053_191_626_637_758_821_87)
            * r
            + 1.0;
        num / den
    } else {
        r -= 5.0;
        let num = ((((((2.010_334_399_292_288_132_65e-7 * r + 2.711_555_568_743_487_578_15e-5)
            * r
            + 1.242_660_947_388_078_438_6e-3)
            * r
            + 2.653_218_952_657_612_309_3e-2)
            * r
            + 2.965_605_718_285_048_912_3e-1)
            * r
            + 1.784_826_539_917_291_335_8)
            * r
            + 5.463_784_911_164_114_369_9)
            * r
            + 6.657_904_643_501_103_777_2;
        let den = ((((((2.044_263_103_389_939_785_64e-15 * r + 1.421_511_758_316_445_888_7e-7)
            * r
            + 1.846_318_317_510_054_681_8e-5)
            * r
            + 7.868_691_311_456_132_591e-4)
            * r
            + 1.487_536_129_085_061_485_25e-2)
            * r
            + 1.369_298_809_227_358_053_1e-1)
            * r
            + 5.998_322_065_558_879_376_9e-1)
            * r
            + 1.0;
        num / den
    };
    if q < 0.0 { -x } else { x }
}

/// The two-sided z for a central interval of `level` percent: Φ⁻¹(0.5 + level/200).
pub fn z_for_level(level: f64) -> f64 {
    quantile(0.5 + level / 200.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-15 * a.abs().max(1.0)
    }

    #[test]
    fn known_quantiles() {
        assert_eq!(quantile(0.5), 0.0);
        assert!(close(quantile(0.9), 1.281_551_565_544_600_4));
        assert!(close(quantile(0.975), 1.959_963_984_540_054));
        assert!(close(quantile(0.025), -1.959_963_984_540_054));
        assert!(close(z_for_level(95.0), 1.959_963_984_540_054));
        assert!(close(z_for_level(80.0), 1.281_551_565_544_600_4));
    }

    #[test]
    fn far_tails_and_edges() {
        // Reference values from Python's statistics.NormalDist (also AS241).
        assert!(close(quantile(1e-10), -6.361_340_902_404_056));
        assert!(close(quantile(1e-12), -7.034_483_825_301_132));
        assert!(close(quantile(1e-20), -9.262_340_089_798_405));
        assert!(close(quantile(0.3), -0.524_400_512_708_040_7));
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(quantile(1.0), f64::INFINITY);
        assert!(quantile(1.5).is_nan());
    }
}
