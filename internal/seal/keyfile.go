package seal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// EnsureKeyFile gives `presencebridge dev` a key file at path: if none
// exists it writes one holding a comment and one new key, "dev-<yyyymmdd>",
// with mode 0600 (creating missing folders with 0700) and reports created.
// An existing file is left as it is, but refused if group or others may read
// it.
//
// Two processes starting at once agree on one file, and neither ever reads
// a half-written one: the key is written to a temporary file that is then
// hard-linked into place, which, like an O_EXCL create, fails if the name
// already exists.
func EnsureKeyFile(path string) (created bool, err error) {
	fi, err := os.Stat(path)
	if err == nil {
		return false, checkKeyFile(path, fi)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("key file: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("key file folder: %w", err)
	}
	k, err := GenerateKey("dev-" + time.Now().UTC().Format("20060102"))
	if err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(dir, ".seal-keys-*") // mode 0600
	if err != nil {
		return false, fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := fmt.Fprintf(tmp, "%s%s\n", keyFileHeader, FormatKey(k))
	if err := tmp.Chmod(0o600); werr == nil {
		werr = err
	}
	if err := tmp.Sync(); werr == nil {
		werr = err
	}
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return false, fmt.Errorf("write key file: %w", werr)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil // another process won the race; its file is complete
		}
		return false, fmt.Errorf("key file: %w", err)
	}
	return true, nil
}

const keyFileHeader = `# Presence Bridge seal keys, one id:base64 a line. The last one seals new values
# unless PB_SEAL_ACTIVE_KEY names another. To rotate: append a key, restart, run
# "presencebridge keys rotate". Keep this file private (mode 0600).
`

func checkKeyFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("key file %s may be read by others (mode %04o): run chmod 600 %s", path, perm, path)
	}
	return nil
}

// ReadKeyFile reads a configured key file (PB_SEAL_KEYS_FILE), refusing one
// that is not a regular file or that group or others may read: a key that
// others can read is no secret.
func ReadKeyFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if err := checkKeyFile(path, fi); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
