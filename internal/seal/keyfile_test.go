package seal

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnsureKeyFileCreatesAPrivateFileWithOneDevKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "seal.keys")
	created, err := EnsureKeyFile(path)
	if err != nil || !created {
		t.Fatalf("EnsureKeyFile = %v, %v; want created", created, err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %04o, want at most %04o", p, got, want)
		}
	}
	text, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(text), "# ") {
		t.Errorf("the file does not start with a comment:\n%s", text)
	}
	keys, err := ParseKeys(string(text))
	if err != nil || len(keys) != 1 {
		t.Fatalf("ParseKeys(created file) = %d keys, %v; want 1", len(keys), err)
	}
	// The date is taken in UTC; allow for midnight passing during the test.
	id := keys[0].ID
	if !regexp.MustCompile(`^dev-\d{8}$`).MatchString(id) {
		t.Errorf("key id %q, want dev-<yyyymmdd>", id)
	}
	if today := "dev-" + time.Now().UTC().Format("20060102"); id > today {
		t.Errorf("key id %q is after today (%s)", id, today)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".seal-keys-*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestEnsureKeyFileLeavesAnExistingFileAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seal.keys")
	if _, err := EnsureKeyFile(path); err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(path)
	created, err := EnsureKeyFile(path)
	if err != nil || created {
		t.Fatalf("second EnsureKeyFile = %v, %v; want not created, no error", created, err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Fatal("the second call changed the file")
	}
}

func TestEnsureKeyFileRefusesAFileOthersCanRead(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		path := filepath.Join(t.TempDir(), "seal.keys")
		if err := os.WriteFile(path, []byte("k1:"+b64(1, 32)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		created, err := EnsureKeyFile(path)
		if err == nil || created || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: %v, %v; want an error advising chmod 600 %s", mode, created, err, path)
		}
		if err != nil && strings.Contains(err.Error(), b64(1, 32)) {
			t.Errorf("mode %04o: the error shows the key: %v", mode, err)
		}
	}
}

func TestEnsureKeyFileRefusesADirectory(t *testing.T) {
	path := t.TempDir()
	if _, err := EnsureKeyFile(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("EnsureKeyFile(a directory) = %v, want not a regular file", err)
	}
}

func TestEnsureKeyFileRacersAgreeOnOneCompleteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seal.keys")
	var mu sync.Mutex
	creators := 0
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			created, err := EnsureKeyFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := ParseKeys(string(text)); err != nil {
				t.Errorf("a racer read an incomplete file: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if created {
				creators++
			}
		})
	}
	wg.Wait()
	if creators != 1 {
		t.Fatalf("%d racers say they created the file, want 1", creators)
	}
}

func TestReadKeyFileRefusesFilesOthersCanRead(t *testing.T) {
	dir := t.TempDir()
	k, err := GenerateKey("prod-1")
	if err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(dir, "private.keys")
	if err := os.WriteFile(private, []byte(FormatKey(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := ReadKeyFile(private)
	if err != nil || !strings.Contains(text, "prod-1:") {
		t.Fatalf("ReadKeyFile(0600) = %q, %v", text, err)
	}
	open := filepath.Join(dir, "open.keys")
	if err := os.WriteFile(open, []byte(FormatKey(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644)
	if _, err := ReadKeyFile(open); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("ReadKeyFile(0644) error = %v, want a refusal saying chmod 600", err)
	}
	if _, err := ReadKeyFile(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ReadKeyFile(dir) error = %v", err)
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadKeyFile(missing) succeeded")
	}
}
