package pgembed

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// account is the operating-system identity the server runs as.
// PostgreSQL refuses to run as root ("initdb: cannot be run as root"), so a
// root process drops to an unprivileged user for initdb and postgres.
type account struct {
	name     string
	uid, gid int
	dropped  bool // true when we run the server as someone other than ourselves
}

func chooseAccount(preferred string) (account, error) {
	if os.Geteuid() != 0 {
		return account{name: "current user", uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	names := []string{"postgres", "nobody"}
	if preferred != "" {
		names = []string{preferred}
	}
	for _, name := range names {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}
		return account{name: name, uid: uid, gid: gid, dropped: true}, nil
	}
	return account{}, fmt.Errorf("running as root, and PostgreSQL refuses to: no unprivileged user %v to run it as; create one (useradd --system postgres) or run as a normal user", names)
}

// sysProcAttr returns the attributes for initdb and postgres: their own
// process group (a Ctrl-C in the terminal goes to us, and we stop the server
// in order), a parent-death signal, and the credentials to drop to.
func (a account) sysProcAttr() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	if a.dropped {
		attr.Credential = &syscall.Credential{Uid: uint32(a.uid), Gid: uint32(a.gid), NoSetGroups: true}
	}
	return attr
}

// prepareDir creates dir (mode 0700) if needed and, when we drop privileges,
// hands it and everything in it to the server's account.
func (a account) prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !a.dropped {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == a.uid {
		return os.Chmod(dir, 0o700)
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, a.uid, a.gid)
	})
	if err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// checkReachable reports, before initdb fails obscurely, a parent folder the
// server's account cannot enter (a project under /root, mode 0700, say).
func (a account) checkReachable(dir string) error {
	if !a.dropped {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !a.canEnter(fi) {
			return fmt.Errorf("the PostgreSQL server runs as user %s (root is refused), which cannot enter %s (mode %v) on the way to %s: "+
				"set PB_DATA_DIR to a folder it can reach (for example under /var/tmp) or run as a normal user",
				a.name, p, fi.Mode().Perm(), abs)
		}
		if p == "/" || p == "." {
			return nil
		}
	}
}

func (a account) canEnter(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == a.uid:
		return perm&0o100 != 0
	case int(st.Gid) == a.gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}
