package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Binaries are the programs a scenario runs, built once per test process
// from the working tree, as an operator would run them.
type Binaries struct {
	Product  string // presencebridge
	Graphsim string
}

var (
	buildOnce sync.Once
	built     Binaries
	buildErr  error
	buildDir  string
)

// Build builds presencebridge (with the openssl tag unless
// PB_FAULTS_GOTAGS says otherwise, as make build does) and graphsim into
// a temporary folder, once; Cleanup removes it.
func Build() (Binaries, error) {
	buildOnce.Do(func() { built, buildErr = build() })
	return built, buildErr
}

// Cleanup removes what Build and StartPostgres made once per process;
// TestMain calls it after the tests.
func Cleanup() {
	for _, dir := range []string{buildDir, templateDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
}

func build() (Binaries, error) {
	root, err := moduleRoot()
	if err != nil {
		return Binaries{}, err
	}
	if buildDir, err = os.MkdirTemp("", "pb-faults-bin-"); err != nil {
		return Binaries{}, err
	}
	tags, ok := os.LookupEnv("PB_FAULTS_GOTAGS")
	if !ok {
		tags = "openssl"
	}
	b := Binaries{Product: filepath.Join(buildDir, "presencebridge"), Graphsim: filepath.Join(buildDir, "graphsim")}
	cgo := "CGO_ENABLED=0"
	if strings.Contains(tags, "openssl") {
		cgo = "CGO_ENABLED=1"
	}
	steps := []struct {
		out, pkg, tags, cgo string
	}{{b.Product, "./cmd/presencebridge", tags, cgo}, {b.Graphsim, "./cmd/graphsim", "", "CGO_ENABLED=0"}}
	for _, s := range steps {
		cmd := exec.Command("go", "build", "-tags", s.tags, "-o", s.out, s.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), s.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("build %s: %v\n%s", s.pkg, err, out)
		}
	}
	return b, nil
}

// moduleRoot is the folder of go.mod, wherever the test runs from.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module (go env GOMOD is %q)", mod)
	}
	return filepath.Dir(mod), nil
}
