package web

import (
	"net"
	"sync"
)

// Listeners is one listener accepting the connections of all of lns, so
// one http.Server serves them all and shuts them down together. Its Addr
// is the first's; Close closes every one. The first error of any (a
// closed listener) ends Accept for good, as it would on one listener.
func Listeners(lns ...net.Listener) net.Listener {
	m := &multiListener{lns: lns, conns: make(chan net.Conn), done: make(chan struct{})}
	for _, ln := range lns {
		go m.accept(ln)
	}
	return m
}

type multiListener struct {
	lns   []net.Listener
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   error
}

func (m *multiListener) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			m.stop(err)
			return
		}
		select {
		case m.conns <- c:
		case <-m.done:
			c.Close()
			return
		}
	}
}

// stop ends Accept with err, the first one, and closes every listener.
func (m *multiListener) stop(err error) {
	m.once.Do(func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.done)
		for _, ln := range m.lns {
			ln.Close()
		}
	})
}

func (m *multiListener) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.done:
		m.mu.Lock()
		defer m.mu.Unlock()
		return nil, m.err
	}
}

func (m *multiListener) Close() error {
	m.stop(net.ErrClosed)
	return nil
}

func (m *multiListener) Addr() net.Addr { return m.lns[0].Addr() }
