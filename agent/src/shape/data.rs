//! [`SecretData`]: the Secret's keys and byte values, zeroized on drop and never printed
//! (defined in `ferry-secret`, which bootstrap shares).

pub use ferry_secret::SecretData;
