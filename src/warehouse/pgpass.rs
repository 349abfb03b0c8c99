//! libpq's password file: `PGPASSFILE`, default `~/.pgpass`; lines of
//! `hostname:port:database:username:password`, `*` matching anything, `\:` and `\\` escaped,
//! `#` starting a comment; the first matching line wins. Like libpq, a file that its group or
//! others can read is ignored (with a warning), and a socket path matches `localhost`.

use std::path::PathBuf;

/// The password for this host, port, database and user, if the password file has one.
pub fn lookup(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let path = file()?;
    let text = std::fs::read_to_string(&path).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(file = %path.display(), "password file has group or world access; ignored (chmod 0600 it)");
            return None;
        }
    }
    let host = if host.starts_with('/') { "localhost" } else { host };
    find(&text, host, &port.to_string(), database, user)
}

fn file() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass"))
}

fn find(text: &str, host: &str, port: &str, database: &str, user: &str) -> Option<String> {
    let wanted = [host, port, database, user];
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split(line);
        if fields.len() != 5 {
            continue;
        }
        if fields[..4].iter().zip(wanted).all(|(f, w)| f == "*" || f == w) {
            return Some(fields[4].clone());
        }
    }
    None
}

/// Split on unescaped `:`, undoing `\:` and `\\`; the password field keeps any further `:`.
fn split(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field").push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_line_wins_with_wildcards_and_escapes() {
        let text = "# comment\nother:5432:*:bi:nope\n127.0.0.1:5433:lake:vbda:s3cr\\:et\n*:*:*:vbda:fallback\n";
        assert_eq!(find(text, "127.0.0.1", "5433", "lake", "vbda").as_deref(), Some("s3cr:et"));
        assert_eq!(find(text, "db", "5432", "x", "vbda").as_deref(), Some("fallback"));
        assert_eq!(find(text, "db", "5432", "x", "bi"), None);
        assert_eq!(find("h:1:d:u:pa:ss\n", "h", "1", "d", "u").as_deref(), Some("pa:ss"));
    }
}
