// Package seal encrypts secrets before they reach the database — Microsoft
// refresh tokens, client secrets, webhook signing secrets — and opens them
// again. A Ring holds the keys; AAD says what a ciphertext belongs to.
//
// # Design
//
// Values are sealed with AES-256-GCM using a random 96-bit nonce, which
// cipher.NewGCMWithRandomNonce prepends to the ciphertext. Random nonces need
// no state: the web server, the workers and `keys rotate` can all seal with
// the same key without coordinating a counter.
//
// The price is a limit. A GCM nonce must never repeat under one key — a
// repeat reveals the XOR of two plaintexts and the authentication key — and
// with random 96-bit nonces NIST SP 800-38D keeps that chance below 2^-32
// only up to 2^32 messages per key. Presence Bridge seals far fewer values
// than that, but the answer to the limit, and to a key that may have leaked,
// is the same: rotation. Each sealed row stores the id of its key next to the
// ciphertext, and a Ring holds several keys with exactly one active. New
// values use the active key; old rows stay readable while their key is still
// in the ring, until `presencebridge keys rotate` has re-sealed them with
// Ring.Reseal. Only then can the old key be removed.
//
// The additional authenticated data binds a ciphertext to its place: the
// secrets row, its tenant and its purpose (see AAD). Someone who can write to
// the database but does not hold the keys cannot copy one tenant's refresh
// token into another tenant's row, or pass a client secret off as a webhook
// signing secret: the moved value no longer opens.
//
// Keys are written as "id:base64" (see ParseKeys), in an environment variable
// or a key file; EnsureKeyFile creates one for development.
package seal
