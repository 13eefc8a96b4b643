//! Shape rules for names and paths: environment variable names, Kubernetes names,
//! KV paths, Vault mounts, role and policy names, URLs. Each returns a static reason
//! on failure and never echoes the input.

/// `[A-Z_][A-Z0-9_]*`.
pub(crate) fn env_name(name: &str) -> Result<(), &'static str> {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_uppercase() || b == b'_');
    if first_ok && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
        Ok(())
    } else {
        Err("must match [A-Z_][A-Z0-9_]*")
    }
}

fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// An RFC 1123 DNS label (namespaces, app names).
pub(crate) fn dns_label(name: &str) -> Result<(), &'static str> {
    if is_label(name) {
        Ok(())
    } else {
        Err(
            "must be a DNS label: at most 63 characters of [a-z0-9-], starting and ending with a letter or digit",
        )
    }
}

/// An RFC 1123 DNS subdomain (most Kubernetes object names).
pub(crate) fn dns_subdomain(name: &str) -> Result<(), &'static str> {
    if name.len() <= 253 && name.split('.').all(is_label) {
        Ok(())
    } else {
        Err(
            "must be a DNS subdomain: at most 253 characters of [a-z0-9-.], each part starting and ending with a letter or digit",
        )
    }
}

/// A key of a Kubernetes Secret's `data`.
pub(crate) fn secret_key(key: &str) -> Result<(), &'static str> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err("must be a Secret key: 1 to 253 characters of [-._a-zA-Z0-9]")
    }
}

/// A KV path relative to the mount. With `allow_glob`, a final `/*` segment is allowed.
pub(crate) fn kv_path(path: &str, allow_glob: bool) -> Result<(), &'static str> {
    let base = match path.strip_suffix("/*") {
        Some(prefix) if allow_glob => prefix,
        _ => path,
    };
    if base.is_empty() {
        return Err(if allow_glob && path == "*" {
            "a bare `*` would grant the whole mount; name a prefix such as `myapp/*`"
        } else {
            "must not be empty"
        });
    }
    if base.starts_with('/') || base.ends_with('/') {
        return Err("must be relative to the KV mount, without a leading or trailing `/`");
    }
    for segment in base.split('/') {
        if segment.is_empty() {
            return Err("must not contain an empty segment (`//`)");
        }
        if segment == "." || segment == ".." {
            return Err("must not contain `.` or `..` segments");
        }
        if segment.contains(['*', '+']) {
            return Err(if allow_glob {
                "a glob is only allowed as a final `/*`"
            } else {
                "must be an exact path, without `*` or `+`"
            });
        }
        if segment.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain whitespace or control characters");
        }
    }
    Ok(())
}

/// A Vault mount path (`secret`, `kv/apps`, `kubernetes`).
pub(crate) fn mount(path: &str) -> Result<(), &'static str> {
    kv_path(path, false).map_err(|reason| match reason {
        "must be relative to the KV mount, without a leading or trailing `/`" => {
            "must not have a leading or trailing `/`"
        }
        other => other,
    })
}

/// A key inside a KV secret (`env[].key`, `property`).
pub(crate) fn kv_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        Err("must not be empty")
    } else if key.trim() != key || key.chars().any(char::is_control) {
        Err("must not have surrounding whitespace or control characters")
    } else {
        Ok(())
    }
}

/// A Vault role or policy name. Vault lowercases policy names, so upper case is refused
/// rather than silently changed; `root` and `default` are Vault's own.
pub(crate) fn vault_name(name: &str) -> Result<(), &'static str> {
    if name == "root" || name == "default" {
        return Err("`root` and `default` are Vault's built-in policies");
    }
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 128
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 128 characters of [a-z0-9_.-], starting with a letter or digit")
    }
}

/// An `http://` or `https://` URL with a host and no credentials, query or fragment.
pub(crate) fn http_url(text: &str) -> Result<(), &'static str> {
    let url = url::Url::parse(text)
        .map_err(|_| "must be an absolute URL such as https://vault.example.com:8200")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use http:// or https://");
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials; bootstrap.yaml holds no secrets");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(())
}

/// A Vault namespace such as `admin/team-a`.
pub(crate) fn vault_namespace(ns: &str) -> Result<(), &'static str> {
    mount(ns)
}

/// The transport a Git URL uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GitUrl {
    /// `http://` or `https://`.
    Http,
    /// `ssh://` or scp-like `user@host:path`.
    Ssh,
}

/// A Git repository URL (or URL prefix) as Argo CD takes it: `http(s)://` or `ssh://` with a
/// host and no password, query or fragment, or scp-like `user@host:path`. Never whitespace,
/// control characters or template braces (the URL is written into an ExternalSecret
/// template).
pub(crate) fn git_url(text: &str) -> Result<GitUrl, &'static str> {
    if text.is_empty() {
        return Err("must not be empty");
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control())
        || text.contains("{{")
        || text.contains("}}")
    {
        return Err("must not contain whitespace, control characters or `{{`/`}}`");
    }
    if let Some((scheme, _)) = text.split_once("://") {
        let url = url::Url::parse(text).map_err(|_| "is not a valid URL")?;
        let kind = match scheme {
            "http" | "https" => GitUrl::Http,
            "ssh" => GitUrl::Ssh,
            _ => return Err("must use https://, http:// or ssh://, or be user@host:path"),
        };
        if url.host_str().is_none_or(str::is_empty) {
            return Err("must name a host");
        }
        if url.password().is_some() || (kind == GitUrl::Http && !url.username().is_empty()) {
            return Err("must not contain credentials; bootstrap.yaml holds no secrets");
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err("must not have a query or fragment");
        }
        return Ok(kind);
    }
    // scp-like: [user@]host:path, with no `/` before the `:`.
    match text.split_once(':') {
        Some((head, _)) if !head.is_empty() && !head.contains('/') => {
            let host = head.rsplit('@').next().unwrap_or_default();
            if host.is_empty() || head.matches('@').count() > 1 {
                Err("must be user@host:path with a host")
            } else {
                Ok(GitUrl::Ssh)
            }
        }
        _ => Err("must use https://, http:// or ssh://, or be user@host:path"),
    }
}
