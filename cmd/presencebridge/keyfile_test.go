package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A production key file that others may read is refused at start, with one
// line that says how to fix it and without the key.
func TestServeRefusesAKeyFileOthersCanRead(t *testing.T) {
	file := filepath.Join(t.TempDir(), "seal.keys")
	const key = "prod-1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	if err := os.WriteFile(file, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := command(t.Context(), []string{"PB_BASE_URL=https://bridge.example.com", "PB_SEAL_KEYS_FILE=" + file,
		"PB_HTTP_ADDR=127.0.0.1:0", "PB_DATABASE_URL=postgres://u:pw@127.0.0.1:1/db"}, "serve")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	out := strings.TrimSpace(stderr.String())
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; stderr: %s", err, out)
	}
	if strings.Count(out, "\n") != 0 || !strings.Contains(out, "PB_SEAL_KEYS_FILE") || !strings.Contains(out, "chmod 600") {
		t.Errorf("stderr = %q, want one line naming PB_SEAL_KEYS_FILE and the fix", out)
	}
	if strings.Contains(out, "AAAAAAAA") {
		t.Errorf("stderr reveals the key: %q", out)
	}
}
