package graphsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Load restores the Sim from the snapshot file at path (Restore); false,
// with the Sim unchanged, when there is no such file.
func (s *Sim) Load(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := s.Restore(b); err != nil {
		return false, fmt.Errorf("%s: %w (move the file away to start afresh)", path, err)
	}
	return true, nil
}

// ApplyMissing applies what a Sim restored from a snapshot lacks of seed:
// its app registration (a secret or redirect URI not yet known is added)
// and the tenants the Sim does not hold. A tenant it holds stays as it was
// left, as Microsoft's would: applying it again would grant a consent
// withdrawn since, or add accounts deleted since.
func (s *Sim) ApplyMissing(seed Seed) error {
	missing := Seed{App: seed.App}
	for _, t := range seed.Tenants {
		if !s.HasTenant(t.ID) {
			missing.Tenants = append(missing.Tenants, t)
		}
	}
	return s.Apply(missing)
}

// Save writes the Sim's snapshot to path, mode 0600 (it holds passwords,
// secrets and refresh tokens), atomically: a crash leaves the old file or
// the new one, never half of one.
func (s *Sim) Save(path string) error {
	b, err := s.Snapshot()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// Persist keeps the snapshot file at path up to date until ctx ends, then
// writes it a last time and returns. It compares the snapshot with the one
// last written every interval rather than being told of each change: no
// change, wherever in the package it is made, can be missed, and a burst
// of changes is written once.
func (s *Sim) Persist(ctx context.Context, path string, interval time.Duration) error {
	var last []byte
	save := func() error {
		b, err := s.Snapshot()
		if err != nil {
			return err
		}
		if bytes.Equal(b, last) {
			return nil
		}
		if err := writeFileAtomic(path, b); err != nil {
			return err
		}
		last = b
		return nil
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return save()
		case <-t.C:
			if err := save(); err != nil {
				s.logger.Warn("graphsim: saving the snapshot failed; retrying", "path", path, "err", err)
			}
		}
	}
}

func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, there is nothing left to remove
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
