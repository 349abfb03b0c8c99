//! Numbers as people read them in the text summaries (`--output json` keeps raw numbers):
//! sizes in binary units, ages in the two largest units, counts with thousands separators and
//! a noun that agrees with them.

/// `115663018` -> `110.3 MiB`.
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `40` -> `40s`, `3725` -> `1h 2m`, `200000` -> `2d 7h`.
pub(super) fn age(seconds: i64) -> String {
    if seconds < 0 {
        return format!("in {}", age(-seconds));
    }
    let (d, h, m, s) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `1234567` -> `1,234,567`.
pub(super) fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `count(1, "file")` -> `1 file`, `count(2, "file")` -> `2 files`.
pub(super) fn count(n: u64, noun: &str) -> String {
    format!("{} {noun}{}", int(n), if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_ages_and_counts_read_like_a_person_wrote_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(115_663_018), "110.3 MiB");
        assert_eq!(bytes(u64::MAX), "16384.0 PiB");
        assert_eq!(age(40), "40s");
        assert_eq!(age(3_725), "1h 2m");
        assert_eq!(age(200_000), "2d 7h");
        assert_eq!(age(-5), "in 5s");
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(1000, "file"), "1,000 files");
    }
}
