package seal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// EnsureKeyFile creates a key file holding one new key at path unless it
// exists. Created files are 0600 in a 0700 folder; an existing file that
// group or others can read is refused. Two processes starting at once agree
// on one file.
func EnsureKeyFile(path string) (created bool, err error) {
	fi, err := os.Stat(path)
	if err == nil {
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return false, fmt.Errorf("key file %s is readable by others (mode %v): run chmod 600 %s", path, perm, path)
		}
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	k, err := GenerateKey("dev-" + time.Now().UTC().Format("20060102"))
	if err != nil {
		return false, err
	}
	// Write a temporary file, then link it into place: link fails if the
	// name exists, so a racing process never sees a half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".seal-keys-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	_, werr := fmt.Fprintf(tmp, "# Presence Bridge development seal keys (id:base64). Keep this file private.\n%s\n", FormatKey(k))
	if err := tmp.Chmod(0o600); werr == nil {
		werr = err
	}
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return false, werr
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil // another process won the race
		}
		return false, err
	}
	return true, nil
}
