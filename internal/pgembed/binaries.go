package pgembed

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
// Its message tells the operator both ways out: install them or point the
// product at an existing database.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found " +
	"(looked for initdb and postgres in PATH, `pg_config --bindir` and /usr/lib/postgresql/*/bin): " +
	"install them (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql) " +
	"or set PB_DATABASE_URL to an existing database")

// findBinDir returns a directory holding both initdb and postgres.
// When wantMajor is not 0 (an existing data folder records its version in
// PG_VERSION) a directory of that major version is preferred, because a
// server refuses data files of another major version.
func findBinDir(explicit string, wantMajor int) (string, error) {
	if explicit != "" {
		if !hasServerBinaries(explicit) {
			return "", fmt.Errorf("%s does not hold initdb and postgres: %w", explicit, ErrNoBinaries)
		}
		return explicit, nil
	}
	candidates := candidateBinDirs()
	if wantMajor != 0 {
		for _, dir := range candidates {
			if major, err := serverMajor(dir); err == nil && major == wantMajor {
				return dir, nil
			}
		}
	}
	if len(candidates) == 0 {
		return "", ErrNoBinaries
	}
	return candidates[0], nil
}

// candidateBinDirs lists directories with server binaries, best first:
// PATH, then pg_config's bindir, then Debian's versioned directories, newest first.
func candidateBinDirs() []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(dir string) {
		if dir == "" {
			return
		}
		if resolved, err := filepath.EvalSymlinks(dir); err == nil {
			dir = resolved
		}
		if seen[dir] || !hasServerBinaries(dir) {
			return
		}
		seen[dir] = true
		dirs = append(dirs, dir)
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		// /usr/local/bin often holds symlinks into a versioned directory;
		// resolve the binary itself so initdb is looked up beside the real one.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			add(filepath.Dir(real))
		}
		add(filepath.Dir(p))
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		add(strings.TrimSpace(string(out)))
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return versionOfDebianDir(matches[i]) > versionOfDebianDir(matches[j]) })
	for _, m := range matches {
		add(m)
	}
	return dirs
}

func versionOfDebianDir(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// serverMajor runs `postgres --version` ("postgres (PostgreSQL) 15.18 (Debian …)").
func serverMajor(binDir string) (int, error) {
	out, err := exec.Command(filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("postgres --version: %w", err)
	}
	return parseMajor(string(out))
}

func parseMajor(versionOutput string) (int, error) {
	fields := strings.Fields(versionOutput)
	for _, f := range fields {
		head, _, _ := strings.Cut(f, ".")
		if n, err := strconv.Atoi(head); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("cannot read a version from %q", strings.TrimSpace(versionOutput))
}

// dataMajor reads PG_VERSION of an initialised data folder; 0 when absent.
func dataMajor(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return parseMajor(string(b))
}
