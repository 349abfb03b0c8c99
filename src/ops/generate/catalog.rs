//! The content catalog: `content_id,title,genre,duration_s,release_year`, one row per content
//! item, with the same `duration_s` the events carry (both come from `content_profile`).
//! Some titles hold commas, quotes or non-ASCII letters on purpose (RFC 4180 quoting, UTF-8).

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use super::model::{ContentKind, content_profile};
use super::rng::Rng;
use super::write::{push_csv_field, push_padded, push_u64};
use crate::error::{Context, Result};

pub(super) const CATALOG_HEADER: &[u8] = b"content_id,title,genre,duration_s,release_year\n";

const ADJECTIVES: [&str; 20] = [
    "Silent", "Crimson", "Hidden", "Last", "Broken", "Golden", "Midnight", "Wild", "Frozen", "Electric", "Lost",
    "Secret", "Burning", "Quiet", "Endless", "Northern", "Iron", "Velvet", "Hollow", "Bright",
];
const NOUNS: [&str; 20] = [
    "Harbor", "Protocol", "Garden", "Frontier", "Empire", "Signal", "River", "Kingdom", "Circuit", "Horizon",
    "Orchard", "Mirror", "Voyage", "Station", "Legacy", "Canyon", "Archive", "Summit", "Tide", "Code",
];

/// Write the catalog for content items 0..items to `path` (via `<path>.tmp`).
pub(super) fn write_catalog(path: &Path, seed: u64, items: u32) -> Result<()> {
    let tmp = super::tmp_path(path);
    let written = write_rows(&tmp, seed, items)
        .and_then(|()| fs::rename(&tmp, path).env_err(|| format!("cannot move {} into place", tmp.display())));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn write_rows(tmp: &Path, seed: u64, items: u32) -> Result<()> {
    let io_err = || format!("cannot write {}", tmp.display());
    let mut file = File::create(tmp).env_err(|| format!("cannot create {}", tmp.display()))?;
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(CATALOG_HEADER);
    let mut title = String::new();
    for idx in 0..items {
        let (profile, mut rng) = content_profile(seed, idx);
        let year = release_year(&mut rng);
        title.clear();
        make_title(&mut rng, profile.kind, profile.genre, &mut title);
        out.push(b'c');
        push_padded(&mut out, u64::from(idx) + 1, 5);
        out.push(b',');
        push_csv_field(&mut out, &title);
        out.push(b',');
        push_csv_field(&mut out, profile.genre);
        out.push(b',');
        push_u64(&mut out, u64::from(profile.duration_s));
        out.push(b',');
        push_u64(&mut out, year);
        out.push(b'\n');
        if out.len() >= 1 << 20 {
            file.write_all(&out).env_err(io_err)?;
            out.clear();
        }
    }
    file.write_all(&out).env_err(io_err)?;
    file.flush().env_err(io_err)
}

/// 1964..=2024: half since 2010, a third 1990-2009, the rest older.
fn release_year(rng: &mut Rng) -> u64 {
    match rng.below(100) {
        0..=49 => rng.range(2010, 2024),
        50..=84 => rng.range(1990, 2009),
        _ => rng.range(1964, 1989),
    }
}

fn make_title(rng: &mut Rng, kind: ContentKind, genre: &str, out: &mut String) {
    let adj = ADJECTIVES[rng.below(ADJECTIVES.len() as u64) as usize];
    let noun = NOUNS[rng.below(NOUNS.len() as u64) as usize];
    let _ = match kind {
        ContentKind::Clip => match genre {
            "Music" => write!(out, "{adj} {noun} (Official Video)"),
            "News" => write!(out, "{noun} Briefing #{}", rng.range(1, 999)),
            "Sports" => write!(out, "{noun} vs. {adj}s: Highlights"),
            _ => write!(out, "{adj} {noun} in 5 Minutes"),
        },
        ContentKind::Episode => {
            let season = rng.range(1, 8);
            let episode = rng.range(1, 12);
            if rng.chance(0.1) {
                write!(out, "{noun}, {adj} & Co. S{season:02}E{episode:02}")
            } else {
                write!(out, "{adj} {noun} S{season:02}E{episode:02}")
            }
        }
        ContentKind::Movie => {
            let other = NOUNS[rng.below(NOUNS.len() as u64) as usize];
            match rng.below(10) {
                0 => write!(out, "The \"{adj}\" Affair"),
                1 => write!(out, "Café {noun}"),
                2..=4 => write!(out, "{noun} of the {adj} {other}"),
                _ => write!(out, "The {adj} {noun}"),
            }
        }
    };
}
