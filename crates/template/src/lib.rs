//! Go `text/template` with the Sprig functions, for ExternalSecret templates
//! (`spec.target.template`, engine v2), in pure Rust: no I/O, no async.
//!
//! ```
//! use ferry_template::{Template, Value};
//! use zeroize::Zeroizing;
//!
//! let data = Value::from_secret_map([("user".to_owned(), Zeroizing::new(b"app".to_vec()))]);
//! let t = Template::parse("auth", r#"{{ printf "%s:%s" .user "x" | b64enc }}"#).unwrap();
//! assert_eq!(t.render(&data).unwrap().as_str(), "YXBwOng=");
//! ```
//!
//! # Values stay secret
//! String values and the output live in [`zeroize::Zeroizing`] buffers. Errors
//! ([`TemplateError`]) say `template <name>:<line>:<col>: <what>` and name functions, fields,
//! variables and types, never a value. A `fail` or `required` message is shown only when it
//! is a literal in the template.
//!
//! # Syntax (as Go)
//! Text and `{{ actions }}`; trim markers `{{- ` and ` -}}`; comments `{{/* … */}}`; `.`,
//! `.a.b`, `$`, `$.a`, `$x.a`; `$x := pipeline`, `$x = pipeline`; pipelines with `|`;
//! parenthesized pipelines with field chains `(…).a`; literals: interpreted and raw strings,
//! character constants, ints (decimal, hex, octal, binary, `_`), floats, `true`, `false`,
//! `nil`; `if`/`else if`/`else`/`end`; `range` over lists, maps (sorted keys) and ints with
//! `$v :=` or `$i, $v :=` and `else`; `break`, `continue`; `with`/`else with`/`else`;
//! `define`, `template`, `block`. Missing map keys are errors, as ESO sets
//! `missingkey=error`.
//!
//! # Functions
//! Go builtins: `and or not len index slice eq ne lt le gt ge print printf println html js
//! urlquery` (`printf` verbs `%v %s %d %q %x %X %o %b %c %f %F %e %E %g %G %t %%`, with flags,
//! width and precision).
//!
//! Sprig: `b64enc b64dec upper lower title trim trimAll trimPrefix trimSuffix nospace
//! contains hasPrefix hasSuffix replace repeat indent nindent sha256sum quote squote cat
//! toString default empty coalesce ternary required fail toJson toPrettyJson toRawJson
//! fromJson mustToJson mustToPrettyJson mustToRawJson mustFromJson get hasKey keys list dict
//! append first last join split splitList atoi int int64 float64 add add1 sub mul div mod`;
//! and ESO's `toYaml fromYaml`.
//!
//! # Known differences from Go, Sprig and ESO
//! - Errors instead of silent output: `b64dec`, `fromJson` and `fromYaml` fail on invalid
//!   input (Sprig returns the error text, `""` or a map holding the error).
//! - Numbers: `eq`/`lt`/… compare ints with floats by value (Go refuses), and `%d`/`%x`
//!   accept integral floats (numbers from `fromJson` are floats, as in Go).
//! - `index` of a missing map key is nil (printed `<no value>`); ESO's top-level data is a
//!   `map[string]string`, where Go prints an empty string.
//! - `keys` returns sorted keys (Sprig: Go's random map order).
//! - `toYaml` output is serde_norway's: the same structure as Go's `sigs.k8s.io/yaml`, but a
//!   string that needs quoting may get other quotes.
//! - A `\xNN` escape in a string literal yields the character U+00NN, not a raw byte.
//! - Not provided: Sprig's random, date, crypto (other than `sha256sum`), regex, semver,
//!   network and OS functions, and ESO's PKCS#12/JWK/PEM helpers; `env` and `expandenv`
//!   are absent as in ESO. An unknown function is a parse error.
//! - The limits below: Go has none of them (other than its own `template` depth).
//! - Map keys and numbers are not zeroized; best effort only for copies made by the
//!   standard library while building a string (e.g. `upper`).
//!
//! # Limits
//! Templates are written by tenants, so neither parsing nor rendering may exhaust the
//! stack, the CPU or memory; exceeding a limit is an ordinary error naming the position.
//! - Nesting: control structures (`if`, `range`, `with`, each `else if`, `block`, `define`)
//!   and parenthesized pipelines together nest at most 100 levels in the template text
//!   (parse error `nesting exceeds 100 levels`). While rendering, `template` calls nest at
//!   most 100 deep, and control structures, parentheses and `template` calls together at
//!   most 200 levels, which fits a 2 MiB thread stack (a tokio worker's) even in a debug
//!   build.
//! - Values: lists and maps nest at most 100 levels, whether built by `list`, `dict` or
//!   `append`, decoded by `fromJson` / `fromYaml`, or given as data. `fromYaml` input whose
//!   flow collections (`[`, `{`) may nest deeper than 100 levels is refused before libyaml
//!   reads it (libyaml's time grows with size × flow depth), unless it is small.
//! - Size: output at most 8 MiB; a string built by any function at most 4 MiB.
//! - Steps: a render may take 2,000,000 steps. A step is a node, a `range` iteration, an
//!   operand, a function call, a variable looked up past 32 others, or 16 bytes copied,
//!   built or written; copying a list or map costs 2 steps per element plus its bytes; slow
//!   functions pay up front for their input (`fromYaml` 3–7 steps a byte, `fromJson` one
//!   per 4 bytes, `toYaml` 6 per value, `toJson` 2; `keys`, `split`, `replace`, `indent`,
//!   `trimAll`, `upper`, `lower`, `title`, `nospace` by size). A typical ExternalSecret template takes a few hundred steps. The
//!   worst templates found (`tests::worst`: nested ranges, copies of large values, string
//!   functions on 4 MiB, decoding and encoding, `template` fan-out) stop within about
//!   0.2 s of CPU, optimized (0.19 s at most, measured on a loaded two-core machine).
//! - Time: [`RenderLimits`] adds a deadline and a cancellation flag, looked at when
//!   rendering starts and every 256 steps ([`Template::render_with`],
//!   [`Template::render_bytes_with`]); one function call runs to its end first (at most
//!   about 0.2 s, for `fromYaml` of the largest input the budget allows).

mod decode;
mod error;
mod exec;
mod format;
mod funcs;
mod lex;
mod limits;
mod parse;
mod sprig;
mod tree;
mod value;
mod yaml;
mod yaml_scan;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

pub use error::TemplateError;
pub use limits::RenderLimits;
pub use value::{Bytes, Value};

/// Whether `text` may be handed to a YAML parser built on libyaml (serde_norway, and serde_norway before it)
/// in bounded time: libyaml's scanning time grows with bytes times flow nesting (`[`, `{`), so
/// input that may nest deeper than 100 levels is refused unless it is small. For callers that
/// parse rendered output as YAML (ExternalSecret `templateFrom` with `KeysAndValues`).
pub fn yaml_input_is_bounded(text: &[u8]) -> bool {
    yaml_scan::checked_depth(text).is_ok()
}

/// A parsed template, ready to render any number of times. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Template {
    name: Arc<str>,
    source: Arc<str>,
    root: Arc<tree::List>,
    defines: Arc<BTreeMap<String, Arc<tree::List>>>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("name", &self.name)
            .field("defines", &self.defines.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Parses `source`; `name` is used in errors (`template <name>:<line>:<col>: …`).
    pub fn parse(name: &str, source: &str) -> Result<Template, TemplateError> {
        let err = |(pos, message): (usize, String)| {
            let (line, col) = line_col(source, pos);
            TemplateError::Parse {
                name: name.to_owned(),
                line,
                col,
                message,
            }
        };
        let toks = lex::lex(source).map_err(err)?;
        let tree = parse::parse(toks, source.len()).map_err(err)?;
        Ok(Template {
            name: name.into(),
            source: source.into(),
            root: Arc::new(tree.root),
            defines: Arc::new(tree.defines),
        })
    }

    /// The name given to [`Template::parse`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders with `data` as dot. The output is zeroized on drop; it must be UTF-8 (see
    /// [`Template::render_bytes`] for binary output).
    pub fn render(&self, data: &Value) -> Result<Zeroizing<String>, TemplateError> {
        self.render_with(data, &RenderLimits::default())
    }

    /// [`Template::render`] that also stops at `limits`' deadline or cancellation flag.
    pub fn render_with(
        &self,
        data: &Value,
        limits: &RenderLimits,
    ) -> Result<Zeroizing<String>, TemplateError> {
        let bytes = self.render_bytes_with(data, limits)?;
        match std::str::from_utf8(&bytes) {
            Ok(_) => {
                let mut bytes = bytes;
                let owned = std::mem::take(&mut *bytes);
                // Valid UTF-8 was just checked; the buffer moves without a copy.
                Ok(Zeroizing::new(String::from_utf8(owned).unwrap_or_default()))
            }
            Err(_) => Err(TemplateError::NotUtf8 {
                name: self.name.to_string(),
            }),
        }
    }

    /// Renders with `data` as dot into bytes (Go templates produce bytes; a Secret's data is
    /// bytes, so binary values such as `b64dec` output survive).
    pub fn render_bytes(&self, data: &Value) -> Result<Bytes, TemplateError> {
        self.render_bytes_with(data, &RenderLimits::default())
    }

    /// [`Template::render_bytes`] that also stops at `limits`' deadline or cancellation flag.
    pub fn render_bytes_with(
        &self,
        data: &Value,
        limits: &RenderLimits,
    ) -> Result<Bytes, TemplateError> {
        let name = self.name.to_string();
        exec::Exec::run(&self.defines, &self.root, data, limits).map_err(|failure| match failure {
            exec::Failure::At(pos, message) => {
                let (line, col) = line_col(&self.source, pos);
                TemplateError::Execute {
                    name,
                    line,
                    col,
                    message,
                }
            }
            exec::Failure::TimedOut => TemplateError::TimedOut { name },
            exec::Failure::Cancelled => TemplateError::Cancelled { name },
        })
    }
}

/// 1-based line and column (in characters) of byte offset `pos`.
fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(source.len());
    let before = source.get(..pos).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}
